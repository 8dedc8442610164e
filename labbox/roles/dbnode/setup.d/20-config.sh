#!/bin/sh
# The node's Galera configuration (DBC-1..4), as the notes' my.cnf: one file after Debian's 50-server.cnf
# (which binds to 127.0.0.1 and sets datadir=/var/lib/mysql: both overridden here). Idempotent.
set -eu
. /etc/labbox/lab.env
n=${LAB_HOST#dbnode}
# Debian 12 enables mariadb.socket (socket activation on 3306 and the unix socket): any connection, even a
# load balancer's health check, would then start a stopped node. A Galera node is started on purpose, in
# order (30-cluster.sh), and a stopped node must stay stopped (LB-4): the socket unit is masked.
systemctl disable --now mariadb.socket >/dev/null 2>&1 || true
systemctl mask mariadb.socket >/dev/null 2>&1
addresses=$(echo "$LAB_DB_IPS" | tr ' ' ',')
cat > /etc/mysql/mariadb.conf.d/60-galera.cnf <<CNF
# Galera node DBNode$n (written by labbox; stackcheck DBC-* checks read it)
[mysqld]
bind-address                   = 0.0.0.0
datadir                        = /var/lib/mysql/mysql_data
skip-name-resolve
max_connect_errors             = 1000000
binlog_format                  = ROW
default_storage_engine         = InnoDB
innodb_autoinc_lock_mode       = 2
innodb_file_per_table          = 1
innodb_buffer_pool_size        = 64M
innodb_log_file_size           = 32M
innodb_flush_log_at_trx_commit = 2
performance_schema             = OFF

[galera]
wsrep_on                       = ON
wsrep_provider                 = /usr/lib/galera/libgalera_smm.so
wsrep_provider_options         = "gcache.size=64M"
wsrep_cluster_name             = ${LAB_DB_CLUSTER_NAME:-SilverSkySoftDBClusterA}
wsrep_cluster_address          = gcomm://$addresses
wsrep_node_name                = DBNode$n
wsrep_node_address             = $LAB_IP
wsrep_sst_method               = rsync
wsrep_slave_threads            = 2
CNF
chmod 644 /etc/mysql/mariadb.conf.d/60-galera.cnf

# TLS (stackcheck's db.tls): the certificate outside.sh made for this node; clients may use TLS, the suite's
# account must (REQUIRE SSL, 40-accounts.sh). In a file of its own: 60-galera.cnf stays the notes' my.cnf.
if [ -f /etc/labbox/tls/server.pem ]; then
    install -d -o mysql -g mysql -m 750 /etc/mysql/ssl
    install -o mysql -g mysql -m 644 /etc/labbox/tls/ca.pem /etc/labbox/tls/server.pem /etc/mysql/ssl/
    install -o mysql -g mysql -m 600 /etc/labbox/tls/server.key /etc/mysql/ssl/
    cat > /etc/mysql/mariadb.conf.d/70-tls.cnf <<CNF
# TLS for SQL clients (written by labbox)
[mysqld]
ssl_ca   = /etc/mysql/ssl/ca.pem
ssl_cert = /etc/mysql/ssl/server.pem
ssl_key  = /etc/mysql/ssl/server.key
CNF
    chmod 644 /etc/mysql/mariadb.conf.d/70-tls.cnf
fi
