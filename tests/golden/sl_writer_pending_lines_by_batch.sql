SELECT ARTran.CustId, ARTran.CostType, ARTran.SiteId, ARTran.BatNbr, sum(ARTran.CuryTranAmt) AS sum_1 
FROM ARTran 
WHERE ARTran.DrCr = ? AND ARTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Module = ? AND Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ?) GROUP BY ARTran.CustId, ARTran.CostType, ARTran.SiteId, ARTran.BatNbr
