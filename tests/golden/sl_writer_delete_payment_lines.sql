DELETE FROM ARTran WHERE ARTran.CustId = ? AND ARTran.TranType = ? AND ARTran.RefNbr = ? AND ARTran.BatNbr = ? AND ARTran.Rlsed = ?
