#!/usr/bin/env python3
"""
The script mitigator replaces, as Flowmon users run it today: one Python start, `import requests`,
one HTTPS call that adds the detection's source to the LoadMaster's global block list (APIv2),
the certificate not verified (verify=False, as those scripts do: mitigator verifies its pin).

    python3 bench/floors/block-python.py <loadmaster url> <api key file> <address>

Exits 0 when the LoadMaster answered the add with status ok.
"""
import sys
import warnings

import requests

url, key_file, address = sys.argv[1:4]
with open(key_file) as f:
    api_key = f.read().strip()
warnings.filterwarnings("ignore")  # InsecureRequestWarning
answer = requests.post(
    f"{url}/accessv2",
    json={"cmd": "aclcontrol", "add": "block", "addr": address, "apikey": api_key},
    verify=False,
    timeout=10,
)
body = answer.json()
sys.exit(0 if answer.status_code == 200 and body.get("status") == "ok" else 1)
