SELECT count(*) AS count_1 
FROM RefNbr 
WHERE RefNbr.RefNbr = ?
