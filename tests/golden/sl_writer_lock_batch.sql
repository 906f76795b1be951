SELECT Batch.Status, Batch.Rlsed, Batch.CuryId 
FROM Batch WITH (UPDLOCK, ROWLOCK) 
WHERE Batch.Module = ? AND Batch.BatNbr = ?
