/*
  paytrace-sl: the one grant needed in the SL SYSTEM database (SQL Server).

  Why: the pipeline reads the company master through the view dbo.vs_Company in the SL application
  database (CpnyID validation, base currency). That view selects from the system database's Company
  table. SQL Server checks permissions across databases: ownership chaining does not cross database
  boundaries unless "cross database ownership chaining" is on for both databases, so the GRANT on the
  view in paytrace_sl_role.sql is not enough by itself. The pipeline's login therefore needs a user in
  the system database with SELECT on that one table, and nothing else there.

  Run ONCE, as a DBA, in the SL system database (the database named by your SL installation, often
  "<Company>SYS" or "SLSystem"), after paytrace_sl_role.sql:
      sqlcmd -S <server> -d <SL system database> -E -v PipelineLogin="paytrace_sl" -i sql/mssql/paytrace_sl_sysdb.sql

  The base table's name (dbo.Company) is what the view reads in the SL versions we know of (reference
  dynamics-sl.md: "Company master is in the system DB"); check with
      SELECT OBJECT_DEFINITION(OBJECT_ID(N'dbo.vs_Company'));
  in the application database and change the table name below if your view reads another.

  Not recommended: ALTER DATABASE ... SET DB_CHAINING ON for both databases instead of this grant. It
  opens every cross-database chain between the two databases to every user, not just this one read.

  Idempotent: re-running it re-applies the same grant.
*/
SET NOCOUNT ON;

IF DATABASE_PRINCIPAL_ID(N'$(PipelineLogin)') IS NULL
    EXEC (N'CREATE USER [$(PipelineLogin)] FOR LOGIN [$(PipelineLogin)] WITH DEFAULT_SCHEMA = dbo');
GO

GRANT SELECT ON dbo.Company TO [$(PipelineLogin)];        -- read through vs_Company in the app database
GO
