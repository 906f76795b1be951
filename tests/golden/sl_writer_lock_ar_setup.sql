SELECT ARSetup.LastBatNbr, ARSetup.LastRefNbr 
FROM ARSetup WITH (UPDLOCK, ROWLOCK) 
WHERE ARSetup.SetupId = ?
