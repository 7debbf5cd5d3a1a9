-- A migration that fails halfway: its first statements succeed (a table and
-- a row in it), then a division by zero aborts the transaction. Create must
-- leave nothing of the tenant behind, not even the first migration's table.
CREATE TABLE boom (id int PRIMARY KEY);
INSERT INTO boom VALUES (1);
SELECT 1/0;
CREATE TABLE never_reached (id int);
