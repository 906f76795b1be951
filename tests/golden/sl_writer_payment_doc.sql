SELECT ARDoc.Rlsed, ARDoc.OrigDocAmt 
FROM ARDoc 
WHERE ARDoc.CustId = ? AND ARDoc.DocType = ? AND ARDoc.RefNbr = ? AND ARDoc.BatNbr = ?
