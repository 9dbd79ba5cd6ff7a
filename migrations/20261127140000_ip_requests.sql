-- The HTTP service's per-address limit: requests per client address per minute, counted in the
-- database so that several server processes behind one load balancer share one count. The desktop
-- app never writes here.
CREATE TABLE ip_requests (
    ip TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (ip, window_start)
) WITHOUT ROWID;
