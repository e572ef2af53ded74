#!/usr/bin/env bash
# Builds, from Go modules through the Go module proxy, what the lifecycle test (npm run e2e) needs
# on a machine without a Pulumi CLI or a Kubernetes cluster: the Pulumi CLI and its Node.js
# language host, the Kubernetes provider plugin, a control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) with kubectl, FerretDB (a
# MongoDB wire-protocol server on SQLite, for the MongoDB store's tests), and what a real node adds
# to that control plane: the kubelet, kube-proxy, the pause program, CoreDNS, metrics-server,
# local-path-provisioner and a NetworkPolicy enforcer (scripts/node-images.sh packs their images).
#
# Usage: scripts/toolchain.sh [component ...]      (default: all; prints the bin folder last)
# Cache: $TWO_TIER_TOOLCHAIN (default ~/.cache/two-tier-toolchain), one folder per component and
# version; a component whose folder is complete is skipped, so an interrupted run resumes.
# A user with the Pulumi CLI and kind never needs this.
set -euo pipefail

source "$(dirname "$0")/versions.sh"

CACHE=${TWO_TIER_TOOLCHAIN:-$HOME/.cache/two-tier-toolchain}
BIN=$CACHE/bin
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$CACHE" "$BIN"

step() { printf 'toolchain: %s\n' "$*" >&2; }
# module_dir MODULE@VERSION: the module's unpacked folder in the module cache (read-only).
module_dir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
# module_sum MODULE@VERSION: the module's h1: hash as downloaded.
module_sum() { go mod download -json "$1" | sed -n 's/^\t"Sum": "\(.*\)",$/\1/p'; }
# writable_copy MODULE@VERSION DEST: a writable copy of the module's files.
writable_copy() {
  local dir
  dir=$(module_dir "$1")
  [ -n "$dir" ] || { echo "the module proxy has no $1" >&2; return 1; }
  rm -rf "$2" && mkdir -p "$(dirname "$2")" && cp -r "$dir" "$2" && chmod -R u+w "$2"
}

build_pulumi() { # the CLI: pkg/v3 replaces sdk/v3 with ../sdk, so both sit side by side
  local src=$1/src
  writable_copy "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "$src/pkg"
  writable_copy "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" "$src/sdk"
  (cd "$src/pkg" && go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$1/pulumi" ./cmd/pulumi)
  rm -rf "$src"
}

build_language_host() {
  local src=$1/src host
  writable_copy "github.com/pulumi/pulumi/sdk/v3@v$LANGUAGE_HOST_VERSION" "$src"
  host=$src/nodejs/cmd/pulumi-language-nodejs
  # 3.68's RunPlugin answers "not supported", and the CLI starts policy packs through it: replace it.
  sed -i 's/^func (host \*nodeLanguageHost) RunPlugin(/func (host *nodeLanguageHost) runPluginUnsupported(/' "$host/main.go"
  cat >"$host/run_policy_pack.go" <<'GO'
package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// RunPlugin starts a Node.js policy pack, the one kind of plugin the CLI runs through this host:
// node @pulumi/pulumi/cmd/run-policy-pack ARGS... FOLDER, in the policy pack's folder.
func (host *nodeLanguageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	folder := programDirectory(req.ProtoReflect().GetUnknown())
	if folder == "" {
		return errors.New("RunPlugin: the request names no program directory")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return err
	}
	resolve := exec.Command(node, "-e", "console.log(require.resolve('@pulumi/pulumi/cmd/run-policy-pack'))")
	resolve.Dir = folder
	script, err := resolve.Output()
	if err != nil {
		return errors.New("the policy pack's dependencies are not installed: @pulumi/pulumi is missing")
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	args := append([]string{strings.TrimSpace(string(script))}, req.Args...)
	cmd := exec.Command(node, append(args, folder)...)
	cmd.Dir = folder
	cmd.Env = req.Env
	if len(cmd.Env) == 0 {
		cmd.Env = os.Environ()
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	var code int32
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		code = int32(exit.ExitCode())
	}
	if err := closer.Close(); err != nil {
		return err
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// programDirectory reads RunPluginRequest.info.program_directory (fields 5 and 2 in newer CLIs'
// language.proto), which this release's generated types keep as unknown fields.
func programDirectory(unknown []byte) string {
	info := field(unknown, 5)
	if info == nil {
		return ""
	}
	return string(field(info, 2))
}

// field returns the bytes of the last length-delimited field with that number in a message.
func field(message []byte, number protowire.Number) []byte {
	var found []byte
	for len(message) > 0 {
		num, typ, n := protowire.ConsumeTag(message)
		if n < 0 {
			return found
		}
		message = message[n:]
		if num == number && typ == protowire.BytesType {
			value, m := protowire.ConsumeBytes(message)
			if m < 0 {
				return found
			}
			found, message = value, message[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, message)
		if m < 0 {
			return found
		}
		message = message[m:]
	}
	return found
}
GO
  (cd "$src" && go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$LANGUAGE_HOST_VERSION" \
    -o "$1/pulumi-language-nodejs" ./nodejs/cmd/pulumi-language-nodejs)
  rm -rf "$src"
}

build_dynamic_provider() { # the CLI's launcher of Node.js dynamic providers: a shell script in the SDK module
  install -m 755 "$(module_dir "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")/nodejs/dist/pulumi-resource-pulumi-nodejs" "$1/"
}

build_kubernetes_provider() { # provider/v4 replaces sdk/v4 with ../sdk; go generate embeds the schema
  local src=$1/src module=github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_PROVIDER_PSEUDO sum
  export GONOSUMDB=github.com/pulumi/pulumi-kubernetes/provider
  sum=$(module_sum "$module")
  [ "$sum" = "$KUBERNETES_PROVIDER_SUM" ] || { echo "$module has hash '$sum', not the pinned $KUBERNETES_PROVIDER_SUM" >&2; return 1; }
  writable_copy "$module" "$src/provider"
  writable_copy "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$KUBERNETES_PROVIDER_VERSION" "$src/sdk"
  (cd "$src/provider/cmd/pulumi-resource-kubernetes" && VERSION=$KUBERNETES_PROVIDER_VERSION go generate ./...)
  (cd "$src/provider" && go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PROVIDER_VERSION" \
    -o "$1/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes)
  rm -rf "$src"
}

# kubernetes_build DEST PACKAGE...: k8s.io/kubernetes replaces its staging modules with ./staging,
# which its module zip leaves out, so a wrapper module points each at its own release.
kubernetes_build() {
  local dest=$1 wrap=$1/src minor=${KUBERNETES_VERSION#*.} gomod v p ldflags=""
  shift
  minor=${minor%%.*}
  mkdir -p "$wrap"
  gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  {
    echo "module two-tier/control-plane"
    echo "go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
    echo "require k8s.io/kubernetes v$KUBERNETES_VERSION"
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#replace \1 => \1 v0.'"${KUBERNETES_VERSION#1.}"'#p' "$gomod"
  } >"$wrap/go.mod"
  for v in component-base/version client-go/pkg/version; do
    ldflags+=" -X k8s.io/$v.gitVersion=v$KUBERNETES_VERSION -X k8s.io/$v.gitMajor=1 -X k8s.io/$v.gitMinor=$minor"
  done
  (cd "$wrap" && go get $(printf "%s@v$KUBERNETES_VERSION " "$@") && for p in "$@"; do
    step "  $(basename "$p")"
    go build -trimpath -ldflags "-s -w$ldflags" -o "$dest/$(basename "$p")" "$p"
  done)
  rm -rf "$wrap"
}

build_kubernetes() {
  kubernetes_build "$1" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_node() { # the node agents, from the same release as the control plane; pause from its C source
  kubernetes_build "$1" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  local pause
  pause=$(module_dir "k8s.io/kubernetes@v$KUBERNETES_VERSION")/build/pause/linux/pause.c
  gcc -Os -static -Wall -DVERSION="v$KUBERNETES_VERSION" -o "$1/pause" "$pause"
}

build_coredns() {
  GOBIN=$1 go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@v$COREDNS_VERSION"
}

build_metrics_server() {
  GOBIN=$1 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/metrics-server/cmd/metrics-server@v$METRICS_SERVER_VERSION"
}

build_local_path_provisioner() {
  GOBIN=$1 go install -trimpath -ldflags "-s -w" \
    "github.com/rancher/local-path-provisioner@v$LOCAL_PATH_PROVISIONER_VERSION"
}

# This kernel lacks CONFIG_NFT_QUEUE but has nft_compat and the x_tables NFQUEUE target: the enforcer's
# nft `queue` expressions become that target (revision 3: queue number, queues in all 1, flags), which
# hands packets to the same netlink queue.
build_network_policies() {
  local src=$1/src
  writable_copy "sigs.k8s.io/kube-network-policies@v$NETWORK_POLICIES_VERSION" "$src"
  cat >"$src/pkg/networkpolicy/nfqueue_target.go" <<'GO'
package networkpolicy

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// nfqueueTarget is the x_tables NFQUEUE target, revision 3 (struct xt_NFQ_info_v3, host byte order).
func nfqueueTarget(queue uint16, bypass bool) *expr.Target {
	info := make(xt.Unknown, 8)
	binary.NativeEndian.PutUint16(info[0:], queue)
	binary.NativeEndian.PutUint16(info[2:], 1)
	if bypass {
		binary.NativeEndian.PutUint16(info[4:], 1) // NFQ_FLAG_BYPASS
	}
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info}
}
GO
  perl -0pi -e 's/queue := &expr\.Queue\{Num: uint16\(c\.config\.QueueID\)\}\n\s*if c\.config\.FailOpen \{\n\s*queue\.Flag = expr\.QueueFlagBypass\n\s*\}/queue := nfqueueTarget(uint16(c.config.QueueID), c.config.FailOpen)/g' \
    "$src/pkg/networkpolicy/controller.go"
  sed -i 's/&expr\.Queue{Num: uint16(n\.nfQueueID), Flag: expr\.QueueFlagBypass}/nfqueueTarget(uint16(n.nfQueueID), true)/' \
    "$src/pkg/networkpolicy/dnsagent.go"
  if grep -n 'expr\.Queue' "$src/pkg/networkpolicy/"*.go | grep -v _test.go; then
    echo "an nft queue expression is left unpatched" >&2
    return 1
  fi
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$1/kube-network-policies" ./cmd)
  rm -rf "$src"
}

build_etcd() {
  local wrap=$1/src
  mkdir -p "$wrap"
  printf 'module two-tier/etcd\ngo 1.24\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >"$wrap/go.mod"
  (cd "$wrap" && go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" && go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$wrap"
}

build_ferretdb() { # its build/version package wants version.txt, which the release build writes
  local src=$1/src
  writable_copy "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION" "$src"
  echo "v$FERRETDB_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$1/ferretdb" ./cmd/ferretdb)
  rm -rf "$src"
}

# component name, version, the binaries it leaves in bin/
COMPONENTS=(
  "pulumi $PULUMI_VERSION pulumi"
  "language_host $LANGUAGE_HOST_VERSION pulumi-language-nodejs"
  "dynamic_provider $PULUMI_VERSION pulumi-resource-pulumi-nodejs"
  "kubernetes_provider $KUBERNETES_PROVIDER_VERSION pulumi-resource-kubernetes"
  "etcd $ETCD_VERSION etcd"
  "kubernetes $KUBERNETES_VERSION kube-apiserver kube-controller-manager kube-scheduler kubectl"
  "ferretdb $FERRETDB_VERSION ferretdb"
  "node $KUBERNETES_VERSION kubelet kube-proxy pause"
  "coredns $COREDNS_VERSION coredns"
  "metrics_server $METRICS_SERVER_VERSION metrics-server"
  "local_path_provisioner $LOCAL_PATH_PROVISIONER_VERSION local-path-provisioner"
  "network_policies $NETWORK_POLICIES_VERSION kube-network-policies"
)

wanted=("$@")
for entry in "${COMPONENTS[@]}"; do
  read -r name version binaries <<<"$entry"
  if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
  dir=$CACHE/$name-$version
  if [ -f "$dir/.complete" ]; then
    step "$name $version: cached"
  else
    step "$name $version: building (log: $dir.log)"
    start=$SECONDS
    rm -rf "$dir" && mkdir -p "$dir"
    # In the background so that errexit holds inside the build function (an `if` would suspend it).
    (set -e; "build_$name" "$dir") >"$dir.log" 2>&1 &
    if ! wait $!; then
      echo "toolchain: $name $version failed to build; the last lines of $dir.log:" >&2
      tail -n 15 "$dir.log" >&2
      exit 1
    fi
    touch "$dir/.complete"
    step "$name $version: built in $((SECONDS - start)) s"
  fi
  # Hard links: the CLI finds its language host next to its own path, not as an ambient plugin.
  for b in $binaries; do ln -f "$dir/$b" "$BIN/$b"; done
done
echo "$BIN"
