UPDATE GLSetup SET LastBatNbr=? WHERE GLSetup.SetupId = ?
