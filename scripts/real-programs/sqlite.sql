-- In-memory database: 200k rows with text, an index, a join and aggregates.
CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200000)
INSERT INTO t SELECT i, printf('name-%d-%s', i * 7919 % 200000, hex(i)), i % 997, printf('%.*c', i % 60, 'x') FROM s;
CREATE INDEX ta ON t(a);
CREATE INDEX tb ON t(b, c);
SELECT count(*), sum(length(a)), sum(length(c)) FROM t;
SELECT b, count(*), group_concat(substr(a, 1, 8), '') IS NOT NULL FROM t GROUP BY b ORDER BY 2 DESC, 1 LIMIT 5;
SELECT count(*) FROM t x JOIN t y ON x.b = y.b AND x.id < y.id WHERE x.id % 50 = 0 AND y.id % 50 = 1;
UPDATE t SET c = c || a WHERE b % 3 = 0;
SELECT sum(length(c)) FROM t;
DELETE FROM t WHERE b % 2 = 0;
SELECT count(*), max(a) FROM t;
