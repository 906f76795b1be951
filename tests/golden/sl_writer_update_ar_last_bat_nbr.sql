UPDATE ARSetup SET LastBatNbr=? WHERE ARSetup.SetupId = ?
