DELETE FROM ARDoc WHERE ARDoc.CustId = ? AND ARDoc.DocType = ? AND ARDoc.RefNbr = ? AND ARDoc.BatNbr = ? AND ARDoc.Rlsed = ?
