SELECT count(*) AS count_1 
FROM ARDoc 
WHERE ARDoc.RefNbr = ? AND ARDoc.DocType IN (?, ?, ?, ?, ?, ?)
