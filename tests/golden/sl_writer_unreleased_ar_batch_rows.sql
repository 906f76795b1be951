SELECT Batch.BatNbr, Batch.Status, Batch.Rlsed, Batch.CrTot, Batch.DrTot, Batch.CtrlTot, Batch.CuryCrTot, Batch.CuryDrTot, Batch.CuryCtrlTot, Batch.DepositAmt, Batch.CuryDepositAmt, Batch.LUpd_DateTime, Batch.LUpd_Prog, Batch.LUpd_User, Batch.tstamp 
FROM Batch 
WHERE Batch.Module = ? AND Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ?
