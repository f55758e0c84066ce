#!/usr/bin/env python3
"""Offline schema check of deploy/k8s-forecast-job.yaml (no cluster needed).

`kubectl apply --dry-run=client` needs an API server for its OpenAPI schema, and
kubeconform needs to download one; this checks what batch/v1 Job and core/v1 Pod
specs require, by hand, from the Kubernetes API reference (v1.30):

- apiVersion batch/v1, kind Job, metadata.name a DNS-1123 label (Job names become
  pod labels: at most 63 characters);
- every key of the Job spec, pod template, pod spec, container, env entry, volume
  mount and resources is a known field (catches typos and misplaced keys);
- types: counts are non-negative integers, completionMode Indexed or NonIndexed
  (Indexed needs completions), restartPolicy Never or OnFailure (a Job's pods may not
  use Always), containers a non-empty list with unique DNS-1123 names and an image,
  command/args lists of strings, env values strings (an unquoted number is an error
  the API server rejects), resource quantities well formed and requests <= limits,
  every volumeMount naming a declared volume at an absolute path, every volume
  with exactly one source;
- candlecast's own contract: CANDLECAST_SHARDS equals completions (N must match the
  number of pods) and the command passes --shard.

    python3 deploy/check-k8s-job.py [deploy/k8s-forecast-job.yaml]

Exit status 0 when the manifest passes, 1 with one line per problem otherwise.
"""

import re
import sys

import yaml

JOB_SPEC = {"activeDeadlineSeconds", "backoffLimit", "backoffLimitPerIndex", "completionMode",
            "completions", "managedBy", "manualSelector", "maxFailedIndexes", "parallelism",
            "podFailurePolicy", "podReplacementPolicy", "selector", "successPolicy", "suspend",
            "template", "ttlSecondsAfterFinished"}
TEMPLATE = {"metadata", "spec"}
POD_SPEC = {"activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "containers",
            "dnsConfig", "dnsPolicy", "enableServiceLinks", "ephemeralContainers", "hostAliases",
            "hostIPC", "hostNetwork", "hostPID", "hostUsers", "hostname", "imagePullSecrets",
            "initContainers", "nodeName", "nodeSelector", "os", "overhead", "preemptionPolicy",
            "priority", "priorityClassName", "readinessGates", "resourceClaims", "restartPolicy",
            "runtimeClassName", "schedulerName", "schedulingGates", "securityContext",
            "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace", "subdomain",
            "terminationGracePeriodSeconds", "tolerations", "topologySpreadConstraints", "volumes"}
CONTAINER = {"args", "command", "env", "envFrom", "image", "imagePullPolicy", "lifecycle",
             "livenessProbe", "name", "ports", "readinessProbe", "resizePolicy", "resources",
             "restartPolicy", "securityContext", "startupProbe", "stdin", "stdinOnce",
             "terminationMessagePath", "terminationMessagePolicy", "tty", "volumeDevices",
             "volumeMounts", "workingDir"}
ENV = {"name", "value", "valueFrom"}
MOUNT = {"mountPath", "mountPropagation", "name", "readOnly", "recursiveReadOnly", "subPath",
         "subPathExpr"}
RESOURCES = {"claims", "limits", "requests"}
VOLUME_SOURCES = {"awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder",
                  "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "fc", "flexVolume",
                  "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "hostPath", "image",
                  "iscsi", "nfs", "persistentVolumeClaim", "photonPersistentDisk",
                  "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "secret",
                  "storageos", "vsphereVolume"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]+)?$")
SCALE = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
         "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(q):
    m = QUANTITY.match(str(q))
    if not m:
        return None
    suffix = m.group(3) or ""
    if suffix.startswith("e"):
        return float(m.group(1)) * 10 ** int(suffix[1:])
    return float(m.group(1)) * SCALE[suffix]


def check(doc):
    errors = []

    def err(where, msg):
        errors.append(f"{where}: {msg}")

    def obj(value, where, allowed):
        if not isinstance(value, dict):
            err(where, "must be a mapping")
            return {}
        for k in value:
            if k not in allowed:
                err(f"{where}.{k}", "unknown field")
        return value

    def count(value, where):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            err(where, f"must be a non-negative integer, got {value!r}")

    if not isinstance(doc, dict):
        return ["the document is not a mapping"]
    if doc.get("apiVersion") != "batch/v1":
        err("apiVersion", f"must be batch/v1, got {doc.get('apiVersion')!r}")
    if doc.get("kind") != "Job":
        err("kind", f"must be Job, got {doc.get('kind')!r}")
    obj(doc, "", {"apiVersion", "kind", "metadata", "spec", "status"})
    name = (doc.get("metadata") or {}).get("name")
    if not (isinstance(name, str) and DNS_LABEL.match(name) and len(name) <= 63):
        err("metadata.name", f"must be a DNS-1123 label of at most 63 characters, got {name!r}")
    spec = obj(doc.get("spec"), "spec", JOB_SPEC)
    for k in ("completions", "parallelism", "backoffLimit", "activeDeadlineSeconds",
              "ttlSecondsAfterFinished"):
        count(spec.get(k), f"spec.{k}")
    mode = spec.get("completionMode", "NonIndexed")
    if mode not in ("Indexed", "NonIndexed"):
        err("spec.completionMode", f"must be Indexed or NonIndexed, got {mode!r}")
    if mode == "Indexed" and spec.get("completions") is None:
        err("spec.completions", "an Indexed Job needs completions")
    template = obj(spec.get("template"), "spec.template", TEMPLATE)
    pod = obj(template.get("spec"), "spec.template.spec", POD_SPEC)
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        err("spec.template.spec.restartPolicy",
            f"a Job's pods need Never or OnFailure, got {pod.get('restartPolicy')!r}")
    volumes = {}
    for i, v in enumerate(pod.get("volumes") or []):
        where = f"spec.template.spec.volumes[{i}]"
        v = obj(v, where, VOLUME_SOURCES | {"name"})
        sources = [k for k in v if k != "name"]
        if len(sources) != 1:
            err(where, f"needs exactly one volume source, got {sources}")
        pvc = v.get("persistentVolumeClaim")
        if pvc is not None:
            pvc = obj(pvc, f"{where}.persistentVolumeClaim", {"claimName", "readOnly"})
            if not isinstance(pvc.get("claimName"), str):
                err(f"{where}.persistentVolumeClaim.claimName", "required string")
        volumes[v.get("name")] = v
    containers = pod.get("containers")
    if not isinstance(containers, list) or not containers:
        err("spec.template.spec.containers", "must be a non-empty list")
        containers = []
    names = set()
    shards_env = {}
    for i, c in enumerate(containers):
        where = f"spec.template.spec.containers[{i}]"
        c = obj(c, where, CONTAINER)
        cname = c.get("name")
        if not (isinstance(cname, str) and DNS_LABEL.match(cname)):
            err(f"{where}.name", f"must be a DNS-1123 label, got {cname!r}")
        if cname in names:
            err(f"{where}.name", f"duplicate container name {cname!r}")
        names.add(cname)
        if not (isinstance(c.get("image"), str) and c.get("image")):
            err(f"{where}.image", "required (a Job's pod template needs an image)")
        for k in ("command", "args"):
            if k in c and not (isinstance(c[k], list) and all(isinstance(a, str) for a in c[k])):
                err(f"{where}.{k}", "must be a list of strings")
        for j, e in enumerate(c.get("env") or []):
            ew = f"{where}.env[{j}]"
            e = obj(e, ew, ENV)
            if not isinstance(e.get("name"), str):
                err(f"{ew}.name", "required string")
            if "value" in e and not isinstance(e["value"], str):
                err(f"{ew}.value", f"must be a string (quote it), got {e['value']!r}")
            if "value" in e and "valueFrom" in e:
                err(ew, "value and valueFrom are exclusive")
            shards_env[e.get("name")] = e.get("value")
        res = obj(c.get("resources") or {}, f"{where}.resources", RESOURCES)
        for part in ("requests", "limits"):
            for k, q in (res.get(part) or {}).items():
                if quantity(q) is None:
                    err(f"{where}.resources.{part}.{k}", f"not a quantity: {q!r}")
        for k, q in (res.get("requests") or {}).items():
            lim = (res.get("limits") or {}).get(k)
            if lim is not None and None not in (quantity(q), quantity(lim)) and quantity(q) > quantity(lim):
                err(f"{where}.resources.requests.{k}", f"{q} exceeds the limit {lim}")
        for j, m in enumerate(c.get("volumeMounts") or []):
            mw = f"{where}.volumeMounts[{j}]"
            m = obj(m, mw, MOUNT)
            if m.get("name") not in volumes:
                err(f"{mw}.name", f"no volume named {m.get('name')!r}")
            if not str(m.get("mountPath", "")).startswith("/"):
                err(f"{mw}.mountPath", "must be an absolute path")
    # candlecast: N in the pods must be the number of pods.
    shards = shards_env.get("CANDLECAST_SHARDS")
    if shards is None:
        err("env", "CANDLECAST_SHARDS is not set: each pod needs N for --shard I/N")
    elif str(spec.get("completions")) != shards:
        err("env.CANDLECAST_SHARDS", f"{shards!r} differs from spec.completions {spec.get('completions')!r}")
    script = " ".join(" ".join(c.get("command", []) + c.get("args", [])) for c in containers if isinstance(c, dict))
    if "--shard" not in script:
        err("containers", "the command does not pass --shard")
    return errors


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "deploy/k8s-forecast-job.yaml"
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if len(docs) != 1:
        print(f"{path}: expected one document, got {len(docs)}")
        return 1
    errors = check(docs[0])
    for e in errors:
        print(f"{path}: {e}")
    if not errors:
        print(f"{path}: ok (batch/v1 Job, {docs[0]['spec'].get('completions')} indexed shards)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
