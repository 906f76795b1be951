SELECT count(*) AS count_1 
FROM Batch 
WHERE Batch.Module = ? AND Batch.BatNbr = ?
