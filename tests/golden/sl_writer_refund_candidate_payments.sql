SELECT ARDoc.RefNbr, ARDoc.Rlsed, ARDoc.DocBal, ARDoc.OrigDocAmt, ARDoc.ApplAmt 
FROM ARDoc 
WHERE ARDoc.CustId = ? AND ARDoc.DocType = ? AND ARDoc.CustOrdNbr = ? ORDER BY ARDoc.DocDate DESC, ARDoc.RefNbr DESC
