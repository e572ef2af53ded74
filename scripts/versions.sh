# Versions of what scripts/toolchain.sh builds from Go modules and scripts/node-images.sh packs, in one
# table; both source it.
# shellcheck disable=SC2034
# The Pulumi releases are the newest whose sources the module proxy serves; package.json
# pins the matching npm packages (test/toolchain.test.ts keeps the two in step).
PULUMI_VERSION=3.259.0
# The Node.js language host moved into a module of its own in 3.69, and the proxy serves no version
# of that module; 3.68 is the last release that ships it inside github.com/pulumi/pulumi/sdk/v3.
# Its RunPlugin (how newer CLIs start policy packs) is replaced by toolchain.sh.
LANGUAGE_HOST_VERSION=3.68.0
KUBERNETES_PROVIDER_VERSION=4.25.0
KUBERNETES_PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199 # the commit tagged v4.25.0
# The checksum database has no entry for that pseudo-version, so its module hash is pinned here.
KUBERNETES_PROVIDER_SUM=h1:j2bphCf7c2YhnBrhwht2f3TNRRgcMImltUlAgzxr9H4=
KUBERNETES_VERSION=1.36.3
ETCD_VERSION=3.6.16
FERRETDB_VERSION=1.24.2
# The real node's add-ons: each the release whose go.mod the Go version here builds.
COREDNS_VERSION=1.15.0
METRICS_SERVER_VERSION=0.9.0
LOCAL_PATH_PROVISIONER_VERSION=0.0.30
NETWORK_POLICIES_VERSION=0.8.0 # patched by toolchain.sh: this kernel has no nft queue expression

