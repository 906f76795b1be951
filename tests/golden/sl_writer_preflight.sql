SELECT GLSetup.BaseCuryId 
FROM GLSetup 
WHERE GLSetup.SetupId = ?

SELECT Currncy.CuryId, Currncy.DecPl 
FROM Currncy

SELECT ARDoc.BatNbr, ARDoc.DocType, ARDoc.RefNbr, ARDoc.CustId 
FROM ARDoc 
WHERE ARDoc.Rlsed = ? AND (ARDoc.BatNbr NOT IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Module = ?)) AND ARDoc.BatNbr = ?

SELECT GLTran.BatNbr, count(*) AS count_1 
FROM GLTran 
WHERE GLTran.Module = ? AND GLTran.Rlsed = ? AND (GLTran.BatNbr NOT IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Module = ?)) AND GLTran.BatNbr = ? GROUP BY GLTran.BatNbr

SELECT Batch.Module, Batch.BatNbr, Batch.EditScrnNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND coalesce(rtrim(Batch.EditScrnNbr), ?) = ?

SELECT Batch.Acct, Batch.AutoRev, Batch.AutoRevCopy, Batch.BalanceType, Batch.BankAcct, Batch.BankSub, Batch.BaseCuryID, Batch.BatNbr, Batch.BatType, Batch.clearamt, Batch.Cleared, Batch.CpnyID, Batch.Crtd_DateTime, Batch.Crtd_Prog, Batch.Crtd_User, Batch.CrTot, Batch.CtrlTot, Batch.CuryCrTot, Batch.CuryCtrlTot, Batch.CuryDepositAmt, Batch.CuryDrTot, Batch.CuryEffDate, Batch.CuryId, Batch.CuryMultDiv, Batch.CuryRate, Batch.CuryRateType, Batch.Cycle, Batch.DateClr, Batch.DateEnt, Batch.DepositAmt, Batch.Descr, Batch.DrTot, Batch.EditScrnNbr, Batch.GLPostOpt, Batch.JrnlType, Batch.LedgerID, Batch.LUpd_DateTime, Batch.LUpd_Prog, Batch.LUpd_User, Batch.Module, Batch.NbrCycle, Batch.NoteID, Batch.OrigBatNbr, Batch.OrigCpnyID, Batch.OrigScrnNbr, Batch.PerEnt, Batch.PerPost, Batch.Rlsed, Batch.S4Future01, Batch.S4Future02, Batch.S4Future03, Batch.S4Future04, Batch.S4Future05, Batch.S4Future06, Batch.S4Future07, Batch.S4Future08, Batch.S4Future09, Batch.S4Future10, Batch.S4Future11, Batch.S4Future12, Batch.Status, Batch.Sub, Batch.User1, Batch.User2, Batch.User3, Batch.User4, Batch.User5, Batch.User6, Batch.User7, Batch.User8, Batch.VOBatNbrForPP, Batch.tstamp 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND (Batch.Acct IS NULL OR Batch.AutoRev IS NULL OR Batch.AutoRevCopy IS NULL OR Batch.BalanceType IS NULL OR Batch.BankAcct IS NULL OR Batch.BankSub IS NULL OR Batch.BaseCuryID IS NULL OR Batch.BatNbr IS NULL OR Batch.BatType IS NULL OR Batch.clearamt IS NULL OR Batch.Cleared IS NULL OR Batch.CpnyID IS NULL OR Batch.Crtd_DateTime IS NULL OR Batch.Crtd_Prog IS NULL OR Batch.Crtd_User IS NULL OR Batch.CrTot IS NULL OR Batch.CtrlTot IS NULL OR Batch.CuryCrTot IS NULL OR Batch.CuryCtrlTot IS NULL OR Batch.CuryDepositAmt IS NULL OR Batch.CuryDrTot IS NULL OR Batch.CuryEffDate IS NULL OR Batch.CuryId IS NULL OR Batch.CuryMultDiv IS NULL OR Batch.CuryRate IS NULL OR Batch.CuryRateType IS NULL OR Batch.Cycle IS NULL OR Batch.DateClr IS NULL OR Batch.DateEnt IS NULL OR Batch.DepositAmt IS NULL OR Batch.Descr IS NULL OR Batch.DrTot IS NULL OR Batch.EditScrnNbr IS NULL OR Batch.GLPostOpt IS NULL OR Batch.JrnlType IS NULL OR Batch.LedgerID IS NULL OR Batch.LUpd_DateTime IS NULL OR Batch.LUpd_Prog IS NULL OR Batch.LUpd_User IS NULL OR Batch.Module IS NULL OR Batch.NbrCycle IS NULL OR Batch.NoteID IS NULL OR Batch.OrigBatNbr IS NULL OR Batch.OrigCpnyID IS NULL OR Batch.OrigScrnNbr IS NULL OR Batch.PerEnt IS NULL OR Batch.PerPost IS NULL OR Batch.Rlsed IS NULL OR Batch.S4Future01 IS NULL OR Batch.S4Future02 IS NULL OR Batch.S4Future03 IS NULL OR Batch.S4Future04 IS NULL OR Batch.S4Future05 IS NULL OR Batch.S4Future06 IS NULL OR Batch.S4Future07 IS NULL OR Batch.S4Future08 IS NULL OR Batch.S4Future09 IS NULL OR Batch.S4Future10 IS NULL OR Batch.S4Future11 IS NULL OR Batch.S4Future12 IS NULL OR Batch.Status IS NULL OR Batch.Sub IS NULL OR Batch.User1 IS NULL OR Batch.User2 IS NULL OR Batch.User3 IS NULL OR Batch.User4 IS NULL OR Batch.User5 IS NULL OR Batch.User6 IS NULL OR Batch.User7 IS NULL OR Batch.User8 IS NULL OR Batch.VOBatNbrForPP IS NULL OR LEN(Batch.Acct) > ? OR LEN(Batch.BalanceType) > ? OR LEN(Batch.BankAcct) > ? OR LEN(Batch.BankSub) > ? OR LEN(Batch.BaseCuryID) > ? OR LEN(Batch.BatNbr) > ? OR LEN(Batch.BatType) > ? OR LEN(Batch.CpnyID) > ? OR LEN(Batch.Crtd_Prog) > ? OR LEN(Batch.Crtd_User) > ? OR LEN(Batch.CuryId) > ? OR LEN(Batch.CuryMultDiv) > ? OR LEN(Batch.CuryRateType) > ? OR LEN(Batch.Descr) > ? OR LEN(Batch.EditScrnNbr) > ? OR LEN(Batch.GLPostOpt) > ? OR LEN(Batch.JrnlType) > ? OR LEN(Batch.LedgerID) > ? OR LEN(Batch.LUpd_Prog) > ? OR LEN(Batch.LUpd_User) > ? OR LEN(Batch.Module) > ? OR LEN(Batch.OrigBatNbr) > ? OR LEN(Batch.OrigCpnyID) > ? OR LEN(Batch.OrigScrnNbr) > ? OR LEN(Batch.PerEnt) > ? OR LEN(Batch.PerPost) > ? OR LEN(Batch.S4Future01) > ? OR LEN(Batch.S4Future02) > ? OR LEN(Batch.S4Future11) > ? OR LEN(Batch.S4Future12) > ? OR LEN(Batch.Status) > ? OR LEN(Batch.Sub) > ? OR LEN(Batch.User1) > ? OR LEN(Batch.User2) > ? OR LEN(Batch.User5) > ? OR LEN(Batch.User6) > ? OR LEN(Batch.VOBatNbrForPP) > ? OR coalesce(rtrim(Batch.Module), ?) = ? OR coalesce(rtrim(Batch.BatNbr), ?) = ? OR coalesce(rtrim(Batch.CpnyID), ?) = ? OR coalesce(rtrim(Batch.PerPost), ?) = ? OR coalesce(rtrim(Batch.Status), ?) = ?)

SELECT ARDoc.AcctNbr, ARDoc.AgentID, ARDoc.ApplAmt, ARDoc.ApplBatNbr, ARDoc.ApplBatSeq, ARDoc.ASID, ARDoc.BankAcct, ARDoc.BankID, ARDoc.BankSub, ARDoc.BatNbr, ARDoc.BatSeq, ARDoc.Cleardate, ARDoc.CmmnAmt, ARDoc.CmmnPct, ARDoc.ContractID, ARDoc.CpnyID, ARDoc.Crtd_DateTime, ARDoc.Crtd_Prog, ARDoc.Crtd_User, ARDoc.CurrentNbr, ARDoc.CuryApplAmt, ARDoc.CuryClearAmt, ARDoc.CuryCmmnAmt, ARDoc.CuryDiscApplAmt, ARDoc.CuryDiscBal, ARDoc.CuryDocBal, ARDoc.CuryEffDate, ARDoc.CuryId, ARDoc.CuryMultDiv, ARDoc.CuryOrigDocAmt, ARDoc.CuryRate, ARDoc.CuryRateType, ARDoc.CuryStmtBal, ARDoc.CuryTaxTot00, ARDoc.CuryTaxTot01, ARDoc.CuryTaxTot02, ARDoc.CuryTaxTot03, ARDoc.CuryTxblTot00, ARDoc.CuryTxblTot01, ARDoc.CuryTxblTot02, ARDoc.CuryTxblTot03, ARDoc.CustId, ARDoc.CustOrdNbr, ARDoc.Cycle, ARDoc.DiscApplAmt, ARDoc.DiscBal, ARDoc.DiscDate, ARDoc.DocBal, ARDoc.DocClass, ARDoc.DocDate, ARDoc.DocDesc, ARDoc.DocType, ARDoc.DraftIssued, ARDoc.DueDate, ARDoc.InstallNbr, ARDoc.JobCntr, ARDoc.LineCntr, ARDoc.LUpd_DateTime, ARDoc.LUpd_Prog, ARDoc.LUpd_User, ARDoc.MasterDocNbr, ARDoc.NbrCycle, ARDoc.NoPrtStmt, ARDoc.NoteId, ARDoc.OpenDoc, ARDoc.OrdNbr, ARDoc.OrigBankAcct, ARDoc.OrigBankSub, ARDoc.OrigCpnyID, ARDoc.OrigDocAmt, ARDoc.OrigDocNbr, ARDoc.PC_Status, ARDoc.PerClosed, ARDoc.PerEnt, ARDoc.PerPost, ARDoc.PmtMethod, ARDoc.ProjectID, ARDoc.RefNbr, ARDoc.RGOLAmt, ARDoc.Rlsed, ARDoc.S4Future01, ARDoc.S4Future02, ARDoc.S4Future03, ARDoc.S4Future04, ARDoc.S4Future05, ARDoc.S4Future06, ARDoc.S4Future07, ARDoc.S4Future08, ARDoc.S4Future09, ARDoc.S4Future10, ARDoc.S4Future11, ARDoc.S4Future12, ARDoc.ServiceCallID, ARDoc.ShipmentNbr, ARDoc.SlsperId, ARDoc.Status, ARDoc.StmtBal, ARDoc.StmtDate, ARDoc.TaskID, ARDoc.TaxCntr00, ARDoc.TaxCntr01, ARDoc.TaxCntr02, ARDoc.TaxCntr03, ARDoc.TaxId00, ARDoc.TaxId01, ARDoc.TaxId02, ARDoc.TaxId03, ARDoc.TaxTot00, ARDoc.TaxTot01, ARDoc.TaxTot02, ARDoc.TaxTot03, ARDoc.Terms, ARDoc.TxblTot00, ARDoc.TxblTot01, ARDoc.TxblTot02, ARDoc.TxblTot03, ARDoc.User1, ARDoc.User2, ARDoc.User3, ARDoc.User4, ARDoc.User5, ARDoc.User6, ARDoc.User7, ARDoc.User8, ARDoc.WSID, ARDoc.tstamp 
FROM ARDoc 
WHERE ARDoc.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND (ARDoc.AcctNbr IS NULL OR ARDoc.AgentID IS NULL OR ARDoc.ApplAmt IS NULL OR ARDoc.ApplBatNbr IS NULL OR ARDoc.ApplBatSeq IS NULL OR ARDoc.ASID IS NULL OR ARDoc.BankAcct IS NULL OR ARDoc.BankID IS NULL OR ARDoc.BankSub IS NULL OR ARDoc.BatNbr IS NULL OR ARDoc.BatSeq IS NULL OR ARDoc.Cleardate IS NULL OR ARDoc.CmmnAmt IS NULL OR ARDoc.CmmnPct IS NULL OR ARDoc.ContractID IS NULL OR ARDoc.CpnyID IS NULL OR ARDoc.Crtd_DateTime IS NULL OR ARDoc.Crtd_Prog IS NULL OR ARDoc.Crtd_User IS NULL OR ARDoc.CurrentNbr IS NULL OR ARDoc.CuryApplAmt IS NULL OR ARDoc.CuryClearAmt IS NULL OR ARDoc.CuryCmmnAmt IS NULL OR ARDoc.CuryDiscApplAmt IS NULL OR ARDoc.CuryDiscBal IS NULL OR ARDoc.CuryDocBal IS NULL OR ARDoc.CuryEffDate IS NULL OR ARDoc.CuryId IS NULL OR ARDoc.CuryMultDiv IS NULL OR ARDoc.CuryOrigDocAmt IS NULL OR ARDoc.CuryRate IS NULL OR ARDoc.CuryRateType IS NULL OR ARDoc.CuryStmtBal IS NULL OR ARDoc.CuryTaxTot00 IS NULL OR ARDoc.CuryTaxTot01 IS NULL OR ARDoc.CuryTaxTot02 IS NULL OR ARDoc.CuryTaxTot03 IS NULL OR ARDoc.CuryTxblTot00 IS NULL OR ARDoc.CuryTxblTot01 IS NULL OR ARDoc.CuryTxblTot02 IS NULL OR ARDoc.CuryTxblTot03 IS NULL OR ARDoc.CustId IS NULL OR ARDoc.CustOrdNbr IS NULL OR ARDoc.Cycle IS NULL OR ARDoc.DiscApplAmt IS NULL OR ARDoc.DiscBal IS NULL OR ARDoc.DiscDate IS NULL OR ARDoc.DocBal IS NULL OR ARDoc.DocClass IS NULL OR ARDoc.DocDate IS NULL OR ARDoc.DocDesc IS NULL OR ARDoc.DocType IS NULL OR ARDoc.DraftIssued IS NULL OR ARDoc.DueDate IS NULL OR ARDoc.InstallNbr IS NULL OR ARDoc.JobCntr IS NULL OR ARDoc.LineCntr IS NULL OR ARDoc.LUpd_DateTime IS NULL OR ARDoc.LUpd_Prog IS NULL OR ARDoc.LUpd_User IS NULL OR ARDoc.MasterDocNbr IS NULL OR ARDoc.NbrCycle IS NULL OR ARDoc.NoPrtStmt IS NULL OR ARDoc.NoteId IS NULL OR ARDoc.OpenDoc IS NULL OR ARDoc.OrdNbr IS NULL OR ARDoc.OrigBankAcct IS NULL OR ARDoc.OrigBankSub IS NULL OR ARDoc.OrigCpnyID IS NULL OR ARDoc.OrigDocAmt IS NULL OR ARDoc.OrigDocNbr IS NULL OR ARDoc.PC_Status IS NULL OR ARDoc.PerClosed IS NULL OR ARDoc.PerEnt IS NULL OR ARDoc.PerPost IS NULL OR ARDoc.PmtMethod IS NULL OR ARDoc.ProjectID IS NULL OR ARDoc.RefNbr IS NULL OR ARDoc.RGOLAmt IS NULL OR ARDoc.Rlsed IS NULL OR ARDoc.S4Future01 IS NULL OR ARDoc.S4Future02 IS NULL OR ARDoc.S4Future03 IS NULL OR ARDoc.S4Future04 IS NULL OR ARDoc.S4Future05 IS NULL OR ARDoc.S4Future06 IS NULL OR ARDoc.S4Future07 IS NULL OR ARDoc.S4Future08 IS NULL OR ARDoc.S4Future09 IS NULL OR ARDoc.S4Future10 IS NULL OR ARDoc.S4Future11 IS NULL OR ARDoc.S4Future12 IS NULL OR ARDoc.ServiceCallID IS NULL OR ARDoc.ShipmentNbr IS NULL OR ARDoc.SlsperId IS NULL OR ARDoc.Status IS NULL OR ARDoc.StmtBal IS NULL OR ARDoc.StmtDate IS NULL OR ARDoc.TaskID IS NULL OR ARDoc.TaxCntr00 IS NULL OR ARDoc.TaxCntr01 IS NULL OR ARDoc.TaxCntr02 IS NULL OR ARDoc.TaxCntr03 IS NULL OR ARDoc.TaxId00 IS NULL OR ARDoc.TaxId01 IS NULL OR ARDoc.TaxId02 IS NULL OR ARDoc.TaxId03 IS NULL OR ARDoc.TaxTot00 IS NULL OR ARDoc.TaxTot01 IS NULL OR ARDoc.TaxTot02 IS NULL OR ARDoc.TaxTot03 IS NULL OR ARDoc.Terms IS NULL OR ARDoc.TxblTot00 IS NULL OR ARDoc.TxblTot01 IS NULL OR ARDoc.TxblTot02 IS NULL OR ARDoc.TxblTot03 IS NULL OR ARDoc.User1 IS NULL OR ARDoc.User2 IS NULL OR ARDoc.User3 IS NULL OR ARDoc.User4 IS NULL OR ARDoc.User5 IS NULL OR ARDoc.User6 IS NULL OR ARDoc.User7 IS NULL OR ARDoc.User8 IS NULL OR ARDoc.WSID IS NULL OR LEN(ARDoc.AcctNbr) > ? OR LEN(ARDoc.AgentID) > ? OR LEN(ARDoc.ApplBatNbr) > ? OR LEN(ARDoc.BankAcct) > ? OR LEN(ARDoc.BankID) > ? OR LEN(ARDoc.BankSub) > ? OR LEN(ARDoc.BatNbr) > ? OR LEN(ARDoc.ContractID) > ? OR LEN(ARDoc.CpnyID) > ? OR LEN(ARDoc.Crtd_Prog) > ? OR LEN(ARDoc.Crtd_User) > ? OR LEN(ARDoc.CuryId) > ? OR LEN(ARDoc.CuryMultDiv) > ? OR LEN(ARDoc.CuryRateType) > ? OR LEN(ARDoc.CustId) > ? OR LEN(ARDoc.CustOrdNbr) > ? OR LEN(ARDoc.DocClass) > ? OR LEN(ARDoc.DocDesc) > ? OR LEN(ARDoc.DocType) > ? OR LEN(ARDoc.LUpd_Prog) > ? OR LEN(ARDoc.LUpd_User) > ? OR LEN(ARDoc.MasterDocNbr) > ? OR LEN(ARDoc.OrdNbr) > ? OR LEN(ARDoc.OrigBankAcct) > ? OR LEN(ARDoc.OrigBankSub) > ? OR LEN(ARDoc.OrigCpnyID) > ? OR LEN(ARDoc.OrigDocNbr) > ? OR LEN(ARDoc.PC_Status) > ? OR LEN(ARDoc.PerClosed) > ? OR LEN(ARDoc.PerEnt) > ? OR LEN(ARDoc.PerPost) > ? OR LEN(ARDoc.PmtMethod) > ? OR LEN(ARDoc.ProjectID) > ? OR LEN(ARDoc.RefNbr) > ? OR LEN(ARDoc.S4Future01) > ? OR LEN(ARDoc.S4Future02) > ? OR LEN(ARDoc.S4Future11) > ? OR LEN(ARDoc.S4Future12) > ? OR LEN(ARDoc.ServiceCallID) > ? OR LEN(ARDoc.SlsperId) > ? OR LEN(ARDoc.Status) > ? OR LEN(ARDoc.TaskID) > ? OR LEN(ARDoc.TaxId00) > ? OR LEN(ARDoc.TaxId01) > ? OR LEN(ARDoc.TaxId02) > ? OR LEN(ARDoc.TaxId03) > ? OR LEN(ARDoc.Terms) > ? OR LEN(ARDoc.User1) > ? OR LEN(ARDoc.User2) > ? OR LEN(ARDoc.User5) > ? OR LEN(ARDoc.User6) > ? OR coalesce(rtrim(ARDoc.CustId), ?) = ? OR coalesce(rtrim(ARDoc.DocType), ?) = ? OR coalesce(rtrim(ARDoc.BatNbr), ?) = ? OR coalesce(rtrim(ARDoc.CpnyID), ?) = ? OR coalesce(rtrim(ARDoc.PerPost), ?) = ?)

SELECT ARTran.Acct, ARTran.AcctDist, ARTran.BatNbr, ARTran.CmmnPct, ARTran.CnvFact, ARTran.ContractID, ARTran.CostType, ARTran.CpnyID, ARTran.Crtd_DateTime, ARTran.Crtd_Prog, ARTran.Crtd_User, ARTran.CuryExtCost, ARTran.CuryId, ARTran.CuryMultDiv, ARTran.CuryRate, ARTran.CuryTaxAmt00, ARTran.CuryTaxAmt01, ARTran.CuryTaxAmt02, ARTran.CuryTaxAmt03, ARTran.CuryTranAmt, ARTran.CuryTxblAmt00, ARTran.CuryTxblAmt01, ARTran.CuryTxblAmt02, ARTran.CuryTxblAmt03, ARTran.CuryUnitPrice, ARTran.CustId, ARTran.DrCr, ARTran.Excpt, ARTran.ExtCost, ARTran.ExtRefNbr, ARTran.FiscYr, ARTran.FlatRateLineNbr, ARTran.InstallNbr, ARTran.InvtId, ARTran.JobRate, ARTran.JrnlType, ARTran.LineId, ARTran.LineNbr, ARTran.LineRef, ARTran.LUpd_DateTime, ARTran.LUpd_Prog, ARTran.LUpd_User, ARTran.MasterDocNbr, ARTran.NoteId, ARTran.OrdNbr, ARTran.PC_Flag, ARTran.PC_ID, ARTran.PC_Status, ARTran.PerEnt, ARTran.PerPost, ARTran.ProjectID, ARTran.Qty, ARTran.RecordID, ARTran.RefNbr, ARTran.Rlsed, ARTran.S4Future01, ARTran.S4Future02, ARTran.S4Future03, ARTran.S4Future04, ARTran.S4Future05, ARTran.S4Future06, ARTran.S4Future07, ARTran.S4Future08, ARTran.S4Future09, ARTran.S4Future10, ARTran.S4Future11, ARTran.S4Future12, ARTran.ServiceCallID, ARTran.ServiceCallLineNbr, ARTran.ServiceDate, ARTran.ShipperCpnyID, ARTran.ShipperID, ARTran.ShipperLineRef, ARTran.SiteId, ARTran.SlsperId, ARTran.SpecificCostID, ARTran.Sub, ARTran.TaskID, ARTran.TaxAmt00, ARTran.TaxAmt01, ARTran.TaxAmt02, ARTran.TaxAmt03, ARTran.TaxCalced, ARTran.TaxCat, ARTran.TaxId00, ARTran.TaxId01, ARTran.TaxId02, ARTran.TaxId03, ARTran.TaxIdDflt, ARTran.TranAmt, ARTran.TranClass, ARTran.TranDate, ARTran.TranDesc, ARTran.TranType, ARTran.TxblAmt00, ARTran.TxblAmt01, ARTran.TxblAmt02, ARTran.TxblAmt03, ARTran.UnitDesc, ARTran.UnitPrice, ARTran.User1, ARTran.User2, ARTran.User3, ARTran.User4, ARTran.User5, ARTran.User6, ARTran.User7, ARTran.User8, ARTran.WhseLoc, ARTran.tstamp 
FROM ARTran 
WHERE ARTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND (ARTran.Acct IS NULL OR ARTran.AcctDist IS NULL OR ARTran.BatNbr IS NULL OR ARTran.CmmnPct IS NULL OR ARTran.CnvFact IS NULL OR ARTran.ContractID IS NULL OR ARTran.CostType IS NULL OR ARTran.CpnyID IS NULL OR ARTran.Crtd_DateTime IS NULL OR ARTran.Crtd_Prog IS NULL OR ARTran.Crtd_User IS NULL OR ARTran.CuryExtCost IS NULL OR ARTran.CuryId IS NULL OR ARTran.CuryMultDiv IS NULL OR ARTran.CuryRate IS NULL OR ARTran.CuryTaxAmt00 IS NULL OR ARTran.CuryTaxAmt01 IS NULL OR ARTran.CuryTaxAmt02 IS NULL OR ARTran.CuryTaxAmt03 IS NULL OR ARTran.CuryTranAmt IS NULL OR ARTran.CuryTxblAmt00 IS NULL OR ARTran.CuryTxblAmt01 IS NULL OR ARTran.CuryTxblAmt02 IS NULL OR ARTran.CuryTxblAmt03 IS NULL OR ARTran.CuryUnitPrice IS NULL OR ARTran.CustId IS NULL OR ARTran.DrCr IS NULL OR ARTran.Excpt IS NULL OR ARTran.ExtCost IS NULL OR ARTran.ExtRefNbr IS NULL OR ARTran.FiscYr IS NULL OR ARTran.FlatRateLineNbr IS NULL OR ARTran.InstallNbr IS NULL OR ARTran.InvtId IS NULL OR ARTran.JobRate IS NULL OR ARTran.JrnlType IS NULL OR ARTran.LineId IS NULL OR ARTran.LineNbr IS NULL OR ARTran.LineRef IS NULL OR ARTran.LUpd_DateTime IS NULL OR ARTran.LUpd_Prog IS NULL OR ARTran.LUpd_User IS NULL OR ARTran.MasterDocNbr IS NULL OR ARTran.NoteId IS NULL OR ARTran.OrdNbr IS NULL OR ARTran.PC_Flag IS NULL OR ARTran.PC_ID IS NULL OR ARTran.PC_Status IS NULL OR ARTran.PerEnt IS NULL OR ARTran.PerPost IS NULL OR ARTran.ProjectID IS NULL OR ARTran.Qty IS NULL OR ARTran.RecordID IS NULL OR ARTran.RefNbr IS NULL OR ARTran.Rlsed IS NULL OR ARTran.S4Future01 IS NULL OR ARTran.S4Future02 IS NULL OR ARTran.S4Future03 IS NULL OR ARTran.S4Future04 IS NULL OR ARTran.S4Future05 IS NULL OR ARTran.S4Future06 IS NULL OR ARTran.S4Future07 IS NULL OR ARTran.S4Future08 IS NULL OR ARTran.S4Future09 IS NULL OR ARTran.S4Future10 IS NULL OR ARTran.S4Future11 IS NULL OR ARTran.S4Future12 IS NULL OR ARTran.ServiceCallID IS NULL OR ARTran.ServiceCallLineNbr IS NULL OR ARTran.ServiceDate IS NULL OR ARTran.ShipperCpnyID IS NULL OR ARTran.ShipperID IS NULL OR ARTran.ShipperLineRef IS NULL OR ARTran.SiteId IS NULL OR ARTran.SlsperId IS NULL OR ARTran.SpecificCostID IS NULL OR ARTran.Sub IS NULL OR ARTran.TaskID IS NULL OR ARTran.TaxAmt00 IS NULL OR ARTran.TaxAmt01 IS NULL OR ARTran.TaxAmt02 IS NULL OR ARTran.TaxAmt03 IS NULL OR ARTran.TaxCalced IS NULL OR ARTran.TaxCat IS NULL OR ARTran.TaxId00 IS NULL OR ARTran.TaxId01 IS NULL OR ARTran.TaxId02 IS NULL OR ARTran.TaxId03 IS NULL OR ARTran.TaxIdDflt IS NULL OR ARTran.TranAmt IS NULL OR ARTran.TranClass IS NULL OR ARTran.TranDate IS NULL OR ARTran.TranDesc IS NULL OR ARTran.TranType IS NULL OR ARTran.TxblAmt00 IS NULL OR ARTran.TxblAmt01 IS NULL OR ARTran.TxblAmt02 IS NULL OR ARTran.TxblAmt03 IS NULL OR ARTran.UnitDesc IS NULL OR ARTran.UnitPrice IS NULL OR ARTran.User1 IS NULL OR ARTran.User2 IS NULL OR ARTran.User3 IS NULL OR ARTran.User4 IS NULL OR ARTran.User5 IS NULL OR ARTran.User6 IS NULL OR ARTran.User7 IS NULL OR ARTran.User8 IS NULL OR ARTran.WhseLoc IS NULL OR LEN(ARTran.Acct) > ? OR LEN(ARTran.BatNbr) > ? OR LEN(ARTran.ContractID) > ? OR LEN(ARTran.CostType) > ? OR LEN(ARTran.CpnyID) > ? OR LEN(ARTran.Crtd_Prog) > ? OR LEN(ARTran.Crtd_User) > ? OR LEN(ARTran.CuryId) > ? OR LEN(ARTran.CuryMultDiv) > ? OR LEN(ARTran.CustId) > ? OR LEN(ARTran.DrCr) > ? OR LEN(ARTran.ExtRefNbr) > ? OR LEN(ARTran.FiscYr) > ? OR LEN(ARTran.InvtId) > ? OR LEN(ARTran.JrnlType) > ? OR LEN(ARTran.LineRef) > ? OR LEN(ARTran.LUpd_Prog) > ? OR LEN(ARTran.LUpd_User) > ? OR LEN(ARTran.MasterDocNbr) > ? OR LEN(ARTran.OrdNbr) > ? OR LEN(ARTran.PC_Flag) > ? OR LEN(ARTran.PC_ID) > ? OR LEN(ARTran.PC_Status) > ? OR LEN(ARTran.PerEnt) > ? OR LEN(ARTran.PerPost) > ? OR LEN(ARTran.ProjectID) > ? OR LEN(ARTran.RefNbr) > ? OR LEN(ARTran.S4Future01) > ? OR LEN(ARTran.S4Future02) > ? OR LEN(ARTran.S4Future11) > ? OR LEN(ARTran.S4Future12) > ? OR LEN(ARTran.ServiceCallID) > ? OR LEN(ARTran.ShipperCpnyID) > ? OR LEN(ARTran.ShipperID) > ? OR LEN(ARTran.ShipperLineRef) > ? OR LEN(ARTran.SiteId) > ? OR LEN(ARTran.SlsperId) > ? OR LEN(ARTran.SpecificCostID) > ? OR LEN(ARTran.Sub) > ? OR LEN(ARTran.TaskID) > ? OR LEN(ARTran.TaxCalced) > ? OR LEN(ARTran.TaxCat) > ? OR LEN(ARTran.TaxId00) > ? OR LEN(ARTran.TaxId01) > ? OR LEN(ARTran.TaxId02) > ? OR LEN(ARTran.TaxId03) > ? OR LEN(ARTran.TaxIdDflt) > ? OR LEN(ARTran.TranClass) > ? OR LEN(ARTran.TranDesc) > ? OR LEN(ARTran.TranType) > ? OR LEN(ARTran.UnitDesc) > ? OR LEN(ARTran.User1) > ? OR LEN(ARTran.User2) > ? OR LEN(ARTran.User5) > ? OR LEN(ARTran.User6) > ? OR LEN(ARTran.WhseLoc) > ? OR coalesce(rtrim(ARTran.CustId), ?) = ? OR coalesce(rtrim(ARTran.TranType), ?) = ? OR coalesce(rtrim(ARTran.BatNbr), ?) = ? OR coalesce(rtrim(ARTran.PerPost), ?) = ? OR coalesce(rtrim(ARTran.DrCr), ?) = ?)

SELECT GLTran.Acct, GLTran.AppliedDate, GLTran.BalanceType, GLTran.BaseCuryID, GLTran.BatNbr, GLTran.CpnyID, GLTran.CrAmt, GLTran.Crtd_DateTime, GLTran.Crtd_Prog, GLTran.Crtd_User, GLTran.CuryCrAmt, GLTran.CuryDrAmt, GLTran.CuryEffDate, GLTran.CuryId, GLTran.CuryMultDiv, GLTran.CuryRate, GLTran.CuryRateType, GLTran.DrAmt, GLTran.EmployeeID, GLTran.ExtRefNbr, GLTran.FiscYr, GLTran.IC_Distribution, GLTran.Id, GLTran.JrnlType, GLTran.Labor_Class_Cd, GLTran.LedgerID, GLTran.LineId, GLTran.LineNbr, GLTran.LineRef, GLTran.LUpd_DateTime, GLTran.LUpd_Prog, GLTran.LUpd_User, GLTran.Module, GLTran.NoteID, GLTran.OrigAcct, GLTran.OrigBatNbr, GLTran.OrigCpnyID, GLTran.OrigSub, GLTran.PC_Flag, GLTran.PC_ID, GLTran.PC_Status, GLTran.PerEnt, GLTran.PerPost, GLTran.Posted, GLTran.ProjectID, GLTran.Qty, GLTran.RefNbr, GLTran.RevEntryOption, GLTran.Rlsed, GLTran.S4Future01, GLTran.S4Future02, GLTran.S4Future03, GLTran.S4Future04, GLTran.S4Future05, GLTran.S4Future06, GLTran.S4Future07, GLTran.S4Future08, GLTran.S4Future09, GLTran.S4Future10, GLTran.S4Future11, GLTran.S4Future12, GLTran.ServiceDate, GLTran.Sub, GLTran.TaskID, GLTran.TranDate, GLTran.TranDesc, GLTran.TranType, GLTran.Units, GLTran.User1, GLTran.User2, GLTran.User3, GLTran.User4, GLTran.User5, GLTran.User6, GLTran.User7, GLTran.User8, GLTran.tstamp 
FROM GLTran 
WHERE GLTran.Module = ? AND GLTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND (GLTran.Acct IS NULL OR GLTran.AppliedDate IS NULL OR GLTran.BalanceType IS NULL OR GLTran.BaseCuryID IS NULL OR GLTran.BatNbr IS NULL OR GLTran.CpnyID IS NULL OR GLTran.CrAmt IS NULL OR GLTran.Crtd_DateTime IS NULL OR GLTran.Crtd_Prog IS NULL OR GLTran.Crtd_User IS NULL OR GLTran.CuryCrAmt IS NULL OR GLTran.CuryDrAmt IS NULL OR GLTran.CuryEffDate IS NULL OR GLTran.CuryId IS NULL OR GLTran.CuryMultDiv IS NULL OR GLTran.CuryRate IS NULL OR GLTran.CuryRateType IS NULL OR GLTran.DrAmt IS NULL OR GLTran.EmployeeID IS NULL OR GLTran.ExtRefNbr IS NULL OR GLTran.FiscYr IS NULL OR GLTran.IC_Distribution IS NULL OR GLTran.Id IS NULL OR GLTran.JrnlType IS NULL OR GLTran.Labor_Class_Cd IS NULL OR GLTran.LedgerID IS NULL OR GLTran.LineId IS NULL OR GLTran.LineNbr IS NULL OR GLTran.LineRef IS NULL OR GLTran.LUpd_DateTime IS NULL OR GLTran.LUpd_Prog IS NULL OR GLTran.LUpd_User IS NULL OR GLTran.Module IS NULL OR GLTran.NoteID IS NULL OR GLTran.OrigAcct IS NULL OR GLTran.OrigBatNbr IS NULL OR GLTran.OrigCpnyID IS NULL OR GLTran.OrigSub IS NULL OR GLTran.PC_Flag IS NULL OR GLTran.PC_ID IS NULL OR GLTran.PC_Status IS NULL OR GLTran.PerEnt IS NULL OR GLTran.PerPost IS NULL OR GLTran.Posted IS NULL OR GLTran.ProjectID IS NULL OR GLTran.Qty IS NULL OR GLTran.RefNbr IS NULL OR GLTran.RevEntryOption IS NULL OR GLTran.Rlsed IS NULL OR GLTran.S4Future01 IS NULL OR GLTran.S4Future02 IS NULL OR GLTran.S4Future03 IS NULL OR GLTran.S4Future04 IS NULL OR GLTran.S4Future05 IS NULL OR GLTran.S4Future06 IS NULL OR GLTran.S4Future07 IS NULL OR GLTran.S4Future08 IS NULL OR GLTran.S4Future09 IS NULL OR GLTran.S4Future10 IS NULL OR GLTran.S4Future11 IS NULL OR GLTran.S4Future12 IS NULL OR GLTran.ServiceDate IS NULL OR GLTran.Sub IS NULL OR GLTran.TaskID IS NULL OR GLTran.TranDate IS NULL OR GLTran.TranDesc IS NULL OR GLTran.TranType IS NULL OR GLTran.Units IS NULL OR GLTran.User1 IS NULL OR GLTran.User2 IS NULL OR GLTran.User3 IS NULL OR GLTran.User4 IS NULL OR GLTran.User5 IS NULL OR GLTran.User6 IS NULL OR GLTran.User7 IS NULL OR GLTran.User8 IS NULL OR LEN(GLTran.Acct) > ? OR LEN(GLTran.BalanceType) > ? OR LEN(GLTran.BaseCuryID) > ? OR LEN(GLTran.BatNbr) > ? OR LEN(GLTran.CpnyID) > ? OR LEN(GLTran.Crtd_Prog) > ? OR LEN(GLTran.Crtd_User) > ? OR LEN(GLTran.CuryId) > ? OR LEN(GLTran.CuryMultDiv) > ? OR LEN(GLTran.CuryRateType) > ? OR LEN(GLTran.EmployeeID) > ? OR LEN(GLTran.ExtRefNbr) > ? OR LEN(GLTran.FiscYr) > ? OR LEN(GLTran.Id) > ? OR LEN(GLTran.JrnlType) > ? OR LEN(GLTran.Labor_Class_Cd) > ? OR LEN(GLTran.LedgerID) > ? OR LEN(GLTran.LineRef) > ? OR LEN(GLTran.LUpd_Prog) > ? OR LEN(GLTran.LUpd_User) > ? OR LEN(GLTran.Module) > ? OR LEN(GLTran.OrigAcct) > ? OR LEN(GLTran.OrigBatNbr) > ? OR LEN(GLTran.OrigCpnyID) > ? OR LEN(GLTran.OrigSub) > ? OR LEN(GLTran.PC_Flag) > ? OR LEN(GLTran.PC_ID) > ? OR LEN(GLTran.PC_Status) > ? OR LEN(GLTran.PerEnt) > ? OR LEN(GLTran.PerPost) > ? OR LEN(GLTran.Posted) > ? OR LEN(GLTran.ProjectID) > ? OR LEN(GLTran.RefNbr) > ? OR LEN(GLTran.RevEntryOption) > ? OR LEN(GLTran.S4Future01) > ? OR LEN(GLTran.S4Future02) > ? OR LEN(GLTran.S4Future11) > ? OR LEN(GLTran.S4Future12) > ? OR LEN(GLTran.Sub) > ? OR LEN(GLTran.TaskID) > ? OR LEN(GLTran.TranDesc) > ? OR LEN(GLTran.TranType) > ? OR LEN(GLTran.User1) > ? OR LEN(GLTran.User2) > ? OR LEN(GLTran.User5) > ? OR LEN(GLTran.User6) > ? OR coalesce(rtrim(GLTran.Module), ?) = ? OR coalesce(rtrim(GLTran.BatNbr), ?) = ? OR coalesce(rtrim(GLTran.CpnyID), ?) = ? OR coalesce(rtrim(GLTran.LedgerID), ?) = ? OR coalesce(rtrim(GLTran.PerPost), ?) = ? OR coalesce(rtrim(GLTran.Posted), ?) = ?)

SELECT ARSetup.PerNbr 
FROM ARSetup 
WHERE ARSetup.SetupId = ?

SELECT GLSetup.PerNbr, GLSetup.LastClosePerNbr 
FROM GLSetup 
WHERE GLSetup.SetupId = ?

SELECT Batch.BatNbr, Batch.CuryId, Batch.CuryCrTot, Batch.CrTot, Batch.CuryCtrlTot, Batch.CtrlTot, coalesce(anon_1.cury, ?) AS coalesce_1, coalesce(anon_1.base, ?) AS coalesce_3 
FROM Batch LEFT OUTER JOIN (SELECT ARDoc.BatNbr AS BatNbr, sum(ARDoc.CuryOrigDocAmt) AS cury, sum(ARDoc.OrigDocAmt) AS base 
FROM ARDoc 
WHERE ARDoc.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND ARDoc.DocType != ? AND ARDoc.DocType != ? GROUP BY ARDoc.BatNbr) AS anon_1 ON anon_1.BatNbr = Batch.BatNbr 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?

SELECT ARDoc.BatNbr, ARDoc.DocType, ARDoc.RefNbr, ARDoc.CustId 
FROM ARDoc 
WHERE ARDoc.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ? AND Batch.EditScrnNbr = ?) AND NOT (EXISTS (SELECT * 
FROM ARTran 
WHERE ARTran.CustId = ARDoc.CustId AND ARTran.TranType = ARDoc.DocType AND ARTran.RefNbr = ARDoc.RefNbr AND ARTran.BatNbr = ARDoc.BatNbr AND ARTran.DrCr != ?))

SELECT ARTran.BatNbr, ARTran.TranType, ARTran.CustId 
FROM ARTran 
WHERE ARTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND coalesce(rtrim(ARTran.RefNbr), ?) = ?

SELECT ARTran.BatNbr, ARTran.TranType, ARTran.RefNbr, ARTran.CustId, ARTran.DrCr 
FROM ARTran 
WHERE ARTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND coalesce(rtrim(ARTran.RefNbr), ?) != ? AND ARTran.DrCr != ? AND NOT (EXISTS (SELECT * 
FROM ARDoc 
WHERE ARDoc.CustId = ARTran.CustId AND ARDoc.DocType = ARTran.TranType AND ARDoc.RefNbr = ARTran.RefNbr AND ARDoc.BatNbr = ARTran.BatNbr))

SELECT ARTran.BatNbr, ARTran.TranType, ARTran.RefNbr, ARTran.CustId, ARTran.DrCr 
FROM ARTran 
WHERE ARTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND coalesce(rtrim(ARTran.RefNbr), ?) != ? AND ARTran.DrCr = ? AND NOT (EXISTS (SELECT * 
FROM ARDoc 
WHERE ARDoc.CustId = ARTran.CustId AND ARDoc.DocType = ARTran.TranType AND ARDoc.RefNbr = ARTran.RefNbr AND ARDoc.ApplBatNbr = ARTran.BatNbr))

SELECT ARDoc.BatNbr, ARDoc.DocType, ARDoc.RefNbr, ARDoc.CustId 
FROM ARDoc 
WHERE ARDoc.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND (ARDoc.CustId NOT IN (SELECT Customer.CustId 
FROM Customer))

SELECT DISTINCT ARDoc.BankAcct, ARDoc.BankSub 
FROM ARDoc 
WHERE ARDoc.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?)

SELECT DISTINCT ARTran.Acct, ARTran.Sub 
FROM ARTran 
WHERE ARTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?)

SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Module = ? AND Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ?

SELECT DISTINCT ARTran.CustId, ARTran.BatNbr, ARTran.SiteId 
FROM ARTran 
WHERE ARTran.DrCr = ? AND ARTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?)

SELECT ARDoc.BatNbr, ARDoc.DocType, ARDoc.RefNbr, ARDoc.PerPost, Batch.PerPost AS [PerPost_1] 
FROM ARDoc JOIN Batch ON Batch.Module = ? AND Batch.BatNbr = ARDoc.BatNbr 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND ARDoc.PerPost != Batch.PerPost

SELECT DISTINCT ARTran.BatNbr, ARTran.TranType, ARTran.RefNbr, ARTran.PerPost, Batch.PerPost AS [PerPost_1] 
FROM ARTran JOIN Batch ON Batch.Module = ? AND Batch.BatNbr = ARTran.BatNbr 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND ARTran.PerPost != Batch.PerPost

SELECT ARDoc.CustId, ARDoc.RefNbr, count(*) AS count_1 
FROM ARDoc JOIN (SELECT ARDoc.CustId AS CustId, ARDoc.RefNbr AS RefNbr 
FROM ARDoc 
WHERE ARDoc.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) AND ARDoc.DocType = ?) AS anon_1 ON anon_1.CustId = ARDoc.CustId AND anon_1.RefNbr = ARDoc.RefNbr 
WHERE ARDoc.DocType = ? GROUP BY ARDoc.CustId, ARDoc.RefNbr 
HAVING count(*) > ?

SELECT Batch.BatNbr, Batch.BaseCuryID, Batch.DrTot, Batch.CrTot, Batch.CtrlTot, Batch.CuryDrTot, Batch.CuryCrTot, coalesce(anon_1.dr, ?) AS coalesce_1, coalesce(anon_1.cr, ?) AS coalesce_3, coalesce(anon_1.cdr, ?) AS coalesce_5, coalesce(anon_1.ccr, ?) AS coalesce_7 
FROM Batch LEFT OUTER JOIN (SELECT GLTran.BatNbr AS BatNbr, sum(GLTran.DrAmt) AS dr, sum(GLTran.CrAmt) AS cr, sum(GLTran.CuryDrAmt) AS cdr, sum(GLTran.CuryCrAmt) AS ccr 
FROM GLTran 
WHERE GLTran.Module = ? AND GLTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?) GROUP BY GLTran.BatNbr) AS anon_1 ON anon_1.BatNbr = Batch.BatNbr 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?

SELECT DISTINCT GLTran.Acct, GLTran.Sub 
FROM GLTran 
WHERE GLTran.Module = ? AND GLTran.BatNbr IN (SELECT Batch.BatNbr 
FROM Batch 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND Batch.Module = ?)

SELECT DISTINCT GLTran.BatNbr, GLTran.TranType, GLTran.RefNbr, GLTran.PerPost, Batch.PerPost AS [PerPost_1] 
FROM GLTran JOIN Batch ON Batch.Module = GLTran.Module AND Batch.BatNbr = GLTran.BatNbr 
WHERE Batch.Rlsed = ? AND Batch.Status != ? AND Batch.Status != ? AND Batch.BatNbr = ? AND GLTran.Module = ? AND GLTran.PerPost != Batch.PerPost
