#!/usr/bin/env bash
# A throwaway WordPress on this machine (Debian's wordpress package, MariaDB, PHP's built-in server on loopback)
# with the plugin active and pointed at SERVICE_URL. Run as root. Prints "WP_URL POST_ID" on its last line.
#
#   integrations/wordpress/e2e_setup.sh http://127.0.0.1:8000 [WP_PORT] [API_KEY] [WEBHOOK_SECRET]
set -euo pipefail
SERVICE_URL=$1
PORT=${2:-8089}
API_KEY=${3:-}
WEBHOOK_SECRET=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
WP=/usr/share/wordpress
export DEBIAN_FRONTEND=noninteractive
command -v mysqld_safe >/dev/null && [ -d $WP ] || apt-get install -y -qq wordpress mariadb-server php-cli php-mysql >/dev/null

# MariaDB on its socket only.
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if ! mysqladmin ping >/dev/null 2>&1; then
  (mysqld_safe --skip-networking >/tmp/wp-e2e-mariadb.log 2>&1 &)
  for _ in $(seq 100); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
mysql -e "DROP DATABASE IF EXISTS wp_e2e; CREATE DATABASE wp_e2e;
          CREATE USER IF NOT EXISTS 'wp_e2e'@'localhost' IDENTIFIED BY 'wp-e2e-pass';
          GRANT ALL ON wp_e2e.* TO 'wp_e2e'@'localhost'; FLUSH PRIVILEGES;"

cat > /etc/wordpress/config-default.php <<PHP
<?php
define('DB_NAME', 'wp_e2e'); define('DB_USER', 'wp_e2e'); define('DB_PASSWORD', 'wp-e2e-pass'); define('DB_HOST', 'localhost');
define('WP_CONTENT_DIR', '$WP/wp-content');
define('WP_HOME', 'http://127.0.0.1:$PORT'); define('WP_SITEURL', 'http://127.0.0.1:$PORT');
define('DISABLE_WP_CRON', true); define('AUTOMATIC_UPDATER_DISABLED', true);
PHP
ln -sfn "$HERE/hindi-news-summarizer" $WP/wp-content/plugins/hindi-news-summarizer

# Install the site, two users (an administrator and an author who may not edit others' posts), the plugin, a post.
POST_ID=$(HNS_URL="$SERVICE_URL" HNS_KEY="$API_KEY" HNS_SECRET="$WEBHOOK_SECRET" php -d display_errors=stderr "$HERE/e2e_install.php")

pkill -f "php -S 127.0.0.1:$PORT" || true
(php -S 127.0.0.1:$PORT -t $WP >/tmp/wp-e2e-php.log 2>&1 &)
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/wp-login.php" && break; sleep 0.2; done
echo "http://127.0.0.1:$PORT $POST_ID"
