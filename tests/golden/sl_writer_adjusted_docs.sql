SELECT ARDoc.CustId, ARDoc.DocType, ARDoc.RefNbr, ARDoc.Rlsed, ARDoc.OpenDoc, ARDoc.CuryDocBal, ARDoc.DocBal, ARDoc.BankAcct, ARDoc.BankSub, ARDoc.CuryRate, ARDoc.CpnyID 
FROM ARDoc WITH (UPDLOCK, ROWLOCK) 
WHERE ARDoc.RefNbr IN (?)
