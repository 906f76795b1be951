/*
  paytrace-sl: least-privilege database role for the SL application database (SQL Server).

  Run ONCE per SL application database, as a DBA (db_owner), e.g.
      sqlcmd -S <server> -d <SL app database> -E -i sql/mssql/paytrace_sl_role.sql
  then (also once, also as the DBA) create our own tables:
      paytrace-sl sl install --sl-url "mssql+pyodbc://<dba>@<dsn>"
  and map the pipeline's login to a database user that is a member of paytrace_sl_writer only
  (template at the end). Never add that user to db_owner, db_ddladmin or db_datawriter.

  Every permission below is justified by a statement the pipeline issues; the list is checked by
  tests/integration/security/test_security_full_run.py, which captures every SQL statement of a full
  run (payments + settlements) and fails if any access is not granted here. See docs/security.md.

  The script is idempotent: re-running it re-applies the same grants.
*/
SET NOCOUNT ON;

IF DATABASE_PRINCIPAL_ID(N'paytrace_sl_writer') IS NULL
    CREATE ROLE paytrace_sl_writer AUTHORIZATION dbo;
GO

/* ---- 1. Read-only: SL setup and master data the transform, preflight and reconciliation read ---- */
GRANT SELECT ON dbo.ARSetup TO paytrace_sl_writer;        -- numbering, AR defaults, current period
GRANT SELECT ON dbo.GLSetup TO paytrace_sl_writer;        -- base currency, GL numbering, periods
GRANT SELECT ON dbo.Account TO paytrace_sl_writer;        -- account exists / active (preflight)
GRANT SELECT ON dbo.SubAcct TO paytrace_sl_writer;        -- subaccount exists / active (preflight)
GRANT SELECT ON dbo.Customer TO paytrace_sl_writer;       -- customer match, AR account defaults
GRANT SELECT ON dbo.Currncy TO paytrace_sl_writer;        -- decimal places for rounding
GRANT SELECT ON dbo.vs_Company TO paytrace_sl_writer;     -- CpnyID validation (view over the SL SYSTEM
                                                          -- database: also run paytrace_sl_sysdb.sql there)
GRANT SELECT ON dbo.SOHeader TO paytrace_sl_writer;       -- invoice match through the sales order
GRANT SELECT ON dbo.AR_Balances TO paytrace_sl_writer;    -- customer balance checks (preflight)
GRANT SELECT ON dbo.ARAdjust TO paytrace_sl_writer;       -- released applications (reconciliation)
GO

/* ---- 2. The documents we write: read (exactly-once checks, invoice lookup) and insert ---------- */
GRANT SELECT, INSERT ON dbo.Batch TO paytrace_sl_writer;  -- AR/GL batch headers, left on Hold
GRANT SELECT, INSERT ON dbo.ARDoc TO paytrace_sl_writer;  -- PA payments, CM refunds; invoice lookup
GRANT SELECT, INSERT ON dbo.ARTran TO paytrace_sl_writer; -- payment/refund lines, application lines
GRANT SELECT, INSERT ON dbo.GLTran TO paytrace_sl_writer; -- settlement (bank deposit) GL batch lines
GRANT SELECT, INSERT ON dbo.RefNbr TO paytrace_sl_writer; -- AR reference numbers we take
GO

/* ---- 3. Column-level UPDATE: only the counters and batch totals the writer maintains ------------ */
GRANT UPDATE ON dbo.ARSetup (LastBatNbr, LastRefNbr) TO paytrace_sl_writer;
GRANT UPDATE ON dbo.GLSetup (LastBatNbr) TO paytrace_sl_writer;
GRANT UPDATE ON dbo.Batch (CrTot, CtrlTot, CuryCrTot, CuryCtrlTot, DepositAmt, CuryDepositAmt,
                           Status, LUpd_DateTime, LUpd_Prog, LUpd_User) TO paytrace_sl_writer;
GO

/* ---- 4. DELETE: the void path removes an UNRELEASED payment we posted (Rlsed = 0 in the WHERE).
        No DELETE on Batch: an emptied batch keeps its header with zero totals. ------------------ */
GRANT DELETE ON dbo.ARDoc TO paytrace_sl_writer;
GRANT DELETE ON dbo.ARTran TO paytrace_sl_writer;
GO

/* ---- 5. Our own tables (created by the one-time `paytrace-sl sl install`): full data rights ---- */
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTSchemaVer TO paytrace_sl_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTLedger TO paytrace_sl_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTReview TO paytrace_sl_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTDeadLetter TO paytrace_sl_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTRun TO paytrace_sl_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTSkip TO paytrace_sl_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTCustXref TO paytrace_sl_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTRecon TO paytrace_sl_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTReportStale TO paytrace_sl_writer;  -- schema v4
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTVaultProfile TO paytrace_sl_writer;  -- schema v5
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTFraudAlert TO paytrace_sl_writer;  -- schema v7
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTFraudModel TO paytrace_sl_writer;  -- schema v7
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTFraudHist TO paytrace_sl_writer;  -- schema v7
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTFraudProfile TO paytrace_sl_writer;  -- schema v7
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTChargeback TO paytrace_sl_writer;  -- schema v8
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTRecurSched TO paytrace_sl_writer;  -- schema v9
GRANT SELECT, INSERT, UPDATE, DELETE ON dbo.xPTRecurPay TO paytrace_sl_writer;  -- schema v9
GO

/* Only with `customers: create_missing: true` in mapping.yaml (off by default; docs/customers.md)
   does the pipeline create SL customers, for vault profiles that match none: then the DBA also gives
   this role INSERT permission on dbo.Customer. Not part of the base role. */

/* ---- 6. The pipeline's login (template; fill in and run as the DBA) -----------------------------
   Use Windows/Entra authentication where you can; otherwise a strong password kept in the Airflow
   connection `dynamics_sl_default` (or the secrets backend), never in the repository.

CREATE LOGIN [paytrace_sl] WITH PASSWORD = N'<from your password manager>', CHECK_POLICY = ON;
CREATE USER [paytrace_sl] FOR LOGIN [paytrace_sl] WITH DEFAULT_SCHEMA = dbo;
ALTER ROLE paytrace_sl_writer ADD MEMBER [paytrace_sl];
*/
