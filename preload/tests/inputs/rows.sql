-- 100,000 rows: create, fill, index, query, update, delete (output is deterministic).
PRAGMA synchronous = OFF;
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL, v INTEGER NOT NULL, pad TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, printf('%08x', (x * 2654435761) % 4294967296), (x * 7919) % 1000,
                     substr(hex(zeroblob(60)), 1, x % 120)
FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_v ON t(v, k);
SELECT count(*), sum(v), min(k), max(k), sum(length(pad)) FROM t;
SELECT v, count(*), sum(id) FROM t GROUP BY v ORDER BY count(*) DESC, v LIMIT 5;
SELECT id, k FROM t WHERE k > '80000000' ORDER BY k LIMIT 5;
SELECT count(*), sum(a.id) FROM t a JOIN t b ON a.v = b.id WHERE a.id % 10 = 0;
UPDATE t SET pad = pad || 'xyz' WHERE id % 3 = 0;
DELETE FROM t WHERE v < 100;
SELECT count(*), sum(length(pad)), group_concat(id) FROM (SELECT * FROM t ORDER BY k LIMIT 20);
