SELECT ARTran.CustId, ARTran.CostType, ARTran.SiteId, ARTran.BatNbr, sum(ARTran.CuryTranAmt) AS sum_1 
FROM ARTran 
WHERE ARTran.DrCr = ? AND ARTran.BatNbr IN (?, ?) GROUP BY ARTran.CustId, ARTran.CostType, ARTran.SiteId, ARTran.BatNbr
