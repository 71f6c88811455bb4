-- Counts the loads of the reference data, so that a snapshot read in several transactions
-- can tell whether the data was replaced meanwhile (the load time alone could repeat).
ALTER TABLE refdata_loads ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
