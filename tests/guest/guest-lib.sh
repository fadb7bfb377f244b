# Prepended to every guest test script (runs under busybox sh in the guest).
# TAP helpers: the host harness turns these lines into its own TAP output.

qcxl_n=0
qcxl_failed=0

# check DESCRIPTION COMMAND...: runs COMMAND, reports ok / not ok.
check() {
    local desc=$1
    shift
    qcxl_n=$((qcxl_n + 1))
    if "$@"; then
        echo "ok $qcxl_n - $desc"
    else
        echo "not ok $qcxl_n - $desc"
        qcxl_failed=$((qcxl_failed + 1))
    fi
}

# data KEY VALUE: a measurement or observation for the host.
data() {
    echo "$1 $2"
}

# The node numbers that have memory but no CPUs.
memory_only_nodes() {
    local n
    for n in /sys/devices/system/node/node[0-9]*; do
        if [ -z "$(cat "$n/cpulist")" ] &&
           [ "$(awk '/MemTotal/ { print $4 }' "$n/meminfo")" -gt 0 ]; then
            echo "${n##*node}"
        fi
    done
}

# The memory tier that holds NODE ("" if none).
tier_of_node() {
    local t
    for t in /sys/devices/virtual/memory_tiering/memory_tier*; do
        [ -d "$t" ] || continue
        if node_in_list "$1" "$(cat "$t/nodelist")"; then
            echo "${t##*/}"
            return 0
        fi
    done
}

# node_in_list N "0-1,3": is N in the kernel-style list?
node_in_list() {
    local n=$1 part lo hi
    for part in $(echo "$2" | tr ',' ' '); do
        lo=${part%-*}
        hi=${part#*-}
        [ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ] && return 0
    done
    return 1
}

finish() {
    echo "tests_run $qcxl_n"
    echo "tests_failed $qcxl_failed"
    [ "$qcxl_failed" -eq 0 ]
}

# create_ram_region DECODER WAYS MEMDEV...: create a RAM region with
# cxl-cli, let kmem online it movable, and set REGION_NODE to the new
# NUMA node ("" if none).  Reports two checks (region created, node
# appeared).  Call it directly, not in $(...): checks count globally.
create_ram_region() {
    local decoder=$1 ways=$2 rc before
    shift 2
    echo online_movable > /sys/devices/system/memory/auto_online_blocks
    before=$(memory_only_nodes | tr '\n' ' ')
    cxl create-region -m -d "$decoder" -t ram -w "$ways" -g 256 "$@" \
        > /tmp/region.json
    rc=$?
    cat /tmp/region.json
    check "cxl create-region -t ram -w $ways on $decoder ($*)" [ "$rc" -eq 0 ]
    wait_new_node "$before"
    check "the region's memory is onlined as a new CPU-less NUMA node" \
        [ -n "$NEW_NODE" ]
    REGION_NODE=$NEW_NODE
}

# wait_new_node "NODES": set NEW_NODE to a CPU-less node not in NODES
# once all its memory blocks are online (the node has memory from its
# first block on; the others follow), "" if none appears.  Up to 30 s
# for the node, 30 s more for its blocks.
wait_new_node() {
    local i n
    NEW_NODE=""
    for i in $(seq 1 30); do
        for n in $(memory_only_nodes); do
            case " $1 " in *" $n "*) ;; *) NEW_NODE=$n ;; esac
        done
        [ -n "$NEW_NODE" ] && break
        sleep 1
    done
    for i in $(seq 1 30); do
        [ -z "$NEW_NODE" ] || node_blocks_online "$NEW_NODE" && break
        sleep 1
    done
}

# create_pmem_ram_node DECODER WAYS GRANULARITY MEMDEV...: create a pmem
# region with cxl-cli, a devdax namespace on it with ndctl, online that
# as system RAM with daxctl, and set REGION_NODE to the new NUMA node (""
# if none).  Reports a check for each step.
create_pmem_ram_node() {
    local decoder=$1 ways=$2 gran=$3 rc nd dax before
    shift 3
    cxl create-region -m -d "$decoder" -t pmem -w "$ways" -g "$gran" "$@" \
        > /tmp/region.json 2>&1
    rc=$?
    cat /tmp/region.json
    check "cxl create-region -t pmem -w $ways -g $gran ($*)" [ "$rc" -eq 0 ]
    nd=$(ndctl list -R | sed -n 's/.*"dev":"\(region[0-9]*\)".*/\1/p' |
         head -n1)
    check "the pmem region is an nvdimm region ($nd)" [ -n "$nd" ]
    ndctl create-namespace -r "$nd" -m devdax > /tmp/ns.json 2>&1
    rc=$?
    cat /tmp/ns.json
    check "ndctl create-namespace -m devdax on $nd" [ "$rc" -eq 0 ]
    dax=$(sed -n 's/.*"chardev":"\(dax[0-9.]*\)".*/\1/p' /tmp/ns.json |
          head -n1)
    check "the namespace is a devdax device ($dax)" [ -n "$dax" ]
    # daxctl onlines the memory itself (movable), and refuses if the
    # kernel would too.
    echo offline > /sys/devices/system/memory/auto_online_blocks
    before=$(memory_only_nodes | tr '\n' ' ')
    daxctl reconfigure-device --mode=system-ram "$dax" > /tmp/d.json 2>&1
    rc=$?
    cat /tmp/d.json
    check "daxctl onlines $dax as system RAM" [ "$rc" -eq 0 ]
    wait_new_node "$before"
    check "the pmem region's memory is a CPU-less NUMA node ($NEW_NODE)" \
        [ -n "$NEW_NODE" ]
    REGION_NODE=$NEW_NODE
}

# node_blocks_online N: node N has memory blocks and all are online.
node_blocks_online() {
    local m total=0 off=0
    for m in /sys/devices/system/memory/memory*; do
        [ -e "$m/node$1" ] || continue
        total=$((total + 1))
        [ "$(cat "$m/state")" = online ] || off=$((off + 1))
    done
    [ "$total" -gt 0 ] && [ "$off" -eq 0 ]
}
