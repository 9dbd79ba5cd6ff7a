-- The service's per-client limit is kept in each process's memory now: a who-am-i no longer makes
-- a durable write before its handler runs.
DROP TABLE ip_requests;
