"""tripleo_baremetal_expand_roles, run for the lab's simulated node provision/unprovision.

The real module's code path (tripleo-ansible's module_utils/baremetal_deploy.expand) with the
module's and the playbook's defaults, so hostnames, HostnameMap, <Role>Count and RemovalPolicies
are exactly what a real undercloud computes. stdin: {"baremetal_deployment", "stack_name",
"state": "present"|"absent"|"all", "ssh_public_keys"?, "user_name"?}; stdout: the module's result.
Run by the venv's Python (metalsmith and jsonschema come from there).
"""
import ast
import importlib.util
import json
import os
import sys

import yaml

share = os.path.join(os.environ["TRIPLEO_DIR"], "venv", "share", "ansible", "plugins")
spec = importlib.util.spec_from_file_location(
    "baremetal_deploy", os.path.join(share, "module_utils", "baremetal_deploy.py"))
bd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bd)

with open(os.path.join(share, "modules", "tripleo_baremetal_expand_roles.py")) as f:
    tree = ast.parse(f.read())
doc = yaml.safe_load(next(
    n.value.value for n in tree.body
    if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "DOCUMENTATION"))["options"]

args = json.load(sys.stdin)
# cli-overcloud-node-provision.yaml's "Set glance based default image" (no image files on the lab).
default_image = {"href": "overcloud-full"}
state = args.get("state", "present")
try:
    env, role_net_map, hostname_role_map, present, absent = {}, {}, {}, [], []
    if state in ("present", "all"):
        present, env, role_net_map, hostname_role_map = bd.expand(
            roles=json.loads(json.dumps(args["baremetal_deployment"])),
            stack_name=args["stack_name"],
            expand_provisioned=True,
            default_image=default_image,
            default_network=doc["default_network"]["default"],
            user_name=args.get("user_name"),
            ssh_public_keys=args.get("ssh_public_keys"),
        )
    if state in ("absent", "all"):
        absent, _, _, _ = bd.expand(
            roles=json.loads(json.dumps(args["baremetal_deployment"])),
            stack_name=args["stack_name"],
            expand_provisioned=False,
            default_image=default_image,
        )
    instances = {"present": present, "absent": absent, "all": present + absent}[state]
    json.dump({"instances": instances, "environment": env,
               "role_net_map": {k: sorted(v) for k, v in role_net_map.items()},
               "hostname_role_map": hostname_role_map}, sys.stdout)
except Exception as e:  # the module's fail_json
    json.dump({"failed": True, "msg": str(e)}, sys.stdout)
