SELECT count(*) AS count_1, coalesce(sum(ARDoc.CuryOrigDocAmt), ?) AS coalesce_1, coalesce(sum(ARDoc.OrigDocAmt), ?) AS coalesce_3 
FROM ARDoc 
WHERE ARDoc.BatNbr = ? AND ARDoc.DocType != ? AND ARDoc.DocType != ?
