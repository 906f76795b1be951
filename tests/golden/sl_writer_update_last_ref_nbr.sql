UPDATE ARSetup SET LastRefNbr=? WHERE ARSetup.SetupId = ?
