#!/bin/bash
# Accounts and the notes' application table, created once on the first node with CREATE USER / DDL so that
# they replicate (DBK-6, DBK-7, LB-5). Root keeps a password everywhere; TCP root only from the lab network
# (the suite's machine 198.18.0.1 and the load balancer). Idempotent; never drops anything.
set -euo pipefail
. /etc/labbox/lab.env
. /etc/labbox/secrets.env
NODES=($LAB_DB_NODES)
[ "$LAB_HOST" = "${NODES[0]}" ] || exit 0
q() { printf "%s" "$1" | sed "s/'/''/g"; }   # quote for a SQL string literal
net="${LAB_NET%.*/*}.%"                          # 198.18.0.0/24 -> 198.18.0.%
mariadb <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('$(q "$DB_ROOT_PASSWORD")');
CREATE USER IF NOT EXISTS 'root'@'$net' IDENTIFIED BY '$(q "$DB_ROOT_PASSWORD")';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'$net' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'admin'@'%' IDENTIFIED BY '$(q "$DB_ADMIN_PASSWORD")';
GRANT ALL ON *.* TO 'admin'@'%';
CREATE USER IF NOT EXISTS 'haproxy_check'@'$LAB_VIP' IDENTIFIED BY '$(q "$HAPROXY_CHECK_PASSWORD")';
-- the suite's least-privileged account (README "Least privilege"), over TLS only: every status read needs no
-- grant; SELECT on everything (DBK-8 and DBK-9 must see every table, DBK-6/7 the accounts); the probe schema
-- of DBK-5 by its name pattern
CREATE USER IF NOT EXISTS 'stackcheck'@'$net' IDENTIFIED BY '$(q "$DB_STACKCHECK_PASSWORD")' REQUIRE SSL;
GRANT SELECT ON *.* TO 'stackcheck'@'$net';
GRANT CREATE, DROP, INSERT, SELECT ON \`stackcheck\_probe\_%\`.* TO 'stackcheck'@'$net';
CREATE DATABASE IF NOT EXISTS my_test_db;
CREATE TABLE IF NOT EXISTS my_test_db.my_test_table (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, test_year INT, test_name VARCHAR(255)) ENGINE=InnoDB;
INSERT INTO my_test_db.my_test_table (test_year, test_name)
    SELECT 1998, 'Hello year 1998' FROM DUAL
    WHERE NOT EXISTS (SELECT 1 FROM my_test_db.my_test_table WHERE test_year = 1998);
SQL
