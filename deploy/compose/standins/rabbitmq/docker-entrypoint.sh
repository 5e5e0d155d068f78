#!/bin/sh
# The official image's contract, in brief: RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS become
# the node's default user (created with full rights on the default vhost when its database is new),
# reachable from other hosts; then the command runs as the rabbitmq user.
set -eu
conf=/etc/rabbitmq/conf.d/10-defaults.conf
{
    echo "loopback_users = none"
    echo "listeners.tcp.default = 5672"
    echo "management.tcp.port = 15672"
    echo "log.console = true"
    echo "log.file = false"
    if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
        echo "default_user = ${RABBITMQ_DEFAULT_USER}"
        echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-}"
        echo "default_user_tags.administrator = true"
        echo "default_permissions.configure = .*"
        echo "default_permissions.read = .*"
        echo "default_permissions.write = .*"
    fi
} > "$conf"
chown rabbitmq:rabbitmq "$conf" /var/lib/rabbitmq
chmod 600 "$conf"
if [ "$(id -u)" = 0 ] && [ "${1:-}" = rabbitmq-server ]; then
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
fi
exec "$@"
