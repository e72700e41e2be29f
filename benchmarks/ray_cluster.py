"""`precompute --runner ray --address …` against a running multi-node Ray cluster, checked against the local extractor.

    python benchmarks/ray_cluster.py                    # 2 nodes × 2 CPUs, garments:n=1024,size=160
    python benchmarks/ray_cluster.py --nodes 3 --data garments:n=2048

The cluster is Ray's own `ray.cluster_utils.Cluster`: a head and worker nodes, each a separate
raylet with its own object store and resources, started on this machine (the only machine here).
The extraction joins it by address, exactly as it joins a real cluster (`ray start --head` on one
machine, `ray start --address <head>:6379` on the others). It prints the nodes the cluster has,
the nodes whose actors computed shards and how many each, who wrote the shards, the time, and the
largest absolute difference to the local extractor's descriptors. Last line:
ray_cluster: nodes=<N> nodes_used=<U> images=<I> seconds=<S> img_per_s=<R> max_abs_diff=<D>
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--cpus-per-node", type=int, default=2)
    ap.add_argument("--data", default="garments:n=1024,size=160")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--shard-rows", type=int, default=32, help="images per shard (the runner's default is 64)")
    args = ap.parse_args()
    from ray.cluster_utils import Cluster

    from analysis.data.datasets import open_dataset
    from analysis.descriptors import ray_runner
    from analysis.descriptors.extract import extract
    from analysis.descriptors.ray_runner import extract_ray
    from analysis.models.model import load_model

    ray_runner.SHARD_ROWS = args.shard_rows
    cache = tempfile.mkdtemp(prefix="layerscope-ray-")
    os.environ["LAYERSCOPE_CACHE"] = os.path.join(cache, "ray")
    model = load_model("efficientnet_lite0", device="cpu")
    ds = open_dataset(args.data)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cpus_per_node, "include_dashboard": False})
    for _ in range(args.nodes - 1):
        cluster.add_node(num_cpus=args.cpus_per_node)
    cluster.wait_for_nodes()
    print(f"cluster at {cluster.address}: {args.nodes} nodes × {args.cpus_per_node} CPU", flush=True)
    try:
        t = time.perf_counter()
        store = extract_ray(model, ds, address=cluster.address, batch_size=args.batch_size,
                            actors=args.nodes)  # one model actor per node; the other CPUs decode
        seconds = time.perf_counter() - t
    finally:
        cluster.shutdown()
    prov = store.manifest["provenance"]
    print(f"ray: {store.n} images in {seconds:.1f} s; cluster nodes {prov['ray_cluster_nodes']}, nodes that computed "
          f"shards {prov['ray_nodes']} (shards per node {prov['ray_shards_per_node']}), {prov['ray_actors']} actors")
    os.environ["LAYERSCOPE_CACHE"] = os.path.join(cache, "local")
    local = extract(model, ds, batch_size=args.batch_size, precision="fp32", engine="torch")
    diff = max(float(np.abs(np.asarray(store.descriptors(b.index)) - np.asarray(local.descriptors(b.index))).max())
               for b in model.blocks)
    print(f"local extractor: same paths {store.paths == local.paths}; max abs difference over all blocks {diff:.2e}")
    print(f"ray_cluster: nodes={prov['ray_cluster_nodes']} nodes_used={prov['ray_nodes']} images={store.n} "
          f"seconds={seconds:.1f} img_per_s={store.n / seconds:.1f} max_abs_diff={diff:.2e}")


if __name__ == "__main__":
    main()
