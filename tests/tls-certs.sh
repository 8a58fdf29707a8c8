#!/bin/bash
# tls-certs.sh DIR: a throw-away CA and certificates for the TLS tests
# (certtool, Debian's gnutls-bin), in QEMU's tls-creds-x509 layout:
#   DIR/good      ca-cert.pem, server-cert.pem/-key.pem (localhost,
#                 127.0.0.1), client-cert.pem/-key.pem (CN=migration-client)
#   DIR/intruder  the same CA, a client CN=intruder (for --tls-authz)
#   DIR/otherca   another CA and its own server and client pairs
#   DIR/expired   the CA, pairs that expired in 2020
#   DIR/future    the CA, pairs valid only from 2099
# Keys are ECDSA P-256 (fast to make).  Nothing here is secret.
set -euo pipefail
dir=$1
command -v certtool >/dev/null || { echo "tls-certs.sh: certtool missing (make deps: gnutls-bin)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"

key() { certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$1" 2>/dev/null; }

# ca NAME OUTDIR
ca() {
    mkdir -p "$2"
    key "$2/ca-key.pem"
    cat > "$2/ca.tmpl" <<T
cn = "$1"
ca
cert_signing_key
expiration_days = 2
T
    certtool --generate-self-signed --load-privkey "$2/ca-key.pem" \
        --template "$2/ca.tmpl" --outfile "$2/ca-cert.pem" 2>/dev/null
}

# pair OUTDIR server|client CN CADIR [activation expiration]
pair() {
    local out=$1 side=$2 cn=$3 cadir=$4
    key "$out/$side-key.pem"
    {
        echo "cn = \"$cn\""
        echo "organization = \"vdagent-chardev tests\""
        if [ "$side" = server ]; then
            echo 'dns_name = "localhost"'
            echo 'ip_address = "127.0.0.1"'
            echo tls_www_server
        else
            echo tls_www_client
        fi
        echo signing_key
        echo encryption_key
        if [ $# -ge 6 ]; then
            echo "activation_date = \"$5\""
            echo "expiration_date = \"$6\""
        else
            echo "expiration_days = 2"
        fi
    } > "$out/$side.tmpl"
    certtool --generate-certificate --load-privkey "$out/$side-key.pem" \
        --load-ca-certificate "$cadir/ca-cert.pem" \
        --load-ca-privkey "$cadir/ca-key.pem" \
        --template "$out/$side.tmpl" --outfile "$out/$side-cert.pem" 2>/dev/null
}

ca "vdagent-chardev test CA" good
pair good server localhost good
pair good client migration-client good

mkdir -p intruder
cp good/ca-cert.pem intruder/
pair intruder client intruder good

ca "some other CA" otherca
pair otherca server localhost otherca
pair otherca client migration-client otherca

for d in expired future; do
    mkdir -p $d
    cp good/ca-cert.pem $d/
done
pair expired server localhost good "2019-01-01 00:00:00 UTC" "2020-01-01 00:00:00 UTC"
pair expired client migration-client good "2019-01-01 00:00:00 UTC" "2020-01-01 00:00:00 UTC"
pair future server localhost good "2099-01-01 00:00:00 UTC" "2100-01-01 00:00:00 UTC"
pair future client migration-client good "2099-01-01 00:00:00 UTC" "2100-01-01 00:00:00 UTC"
rm -f ./*/*.tmpl
