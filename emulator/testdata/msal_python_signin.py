# MSAL Python signs a user in through the emulator with a certificate: the
# auth code flow (the emulator's sign-in form posted as a browser would),
# a forced refresh, and a Graph call. Run by msal_python_test.go.
#
# Input: a JSON object on stdin (authority, client_id, redirect_uri, scope,
# private_key_file, thumbprint, ca_file, username, password, graph).
# Output: one JSON object on stdout, without any token.
import json
import sys
import urllib.parse

import msal
import requests

cfg = json.load(sys.stdin)
with open(cfg["private_key_file"]) as f:
    private_key = f.read()

app = msal.ConfidentialClientApplication(
    cfg["client_id"],
    authority=cfg["authority"],
    client_credential={"private_key": private_key, "thumbprint": cfg["thumbprint"]},
    verify=cfg["ca_file"],
    # The emulator is not a Microsoft host: instance discovery would ask
    # login.microsoftonline.com about it.
    instance_discovery=False,
)


def fail(step, detail):
    print(json.dumps({"failed": step, "detail": detail}))
    sys.exit(1)


flow = app.initiate_auth_code_flow(cfg["scope"], redirect_uri=cfg["redirect_uri"])
if "error" in flow:
    fail("initiate_auth_code_flow", flow)

browser = requests.Session()
browser.verify = cfg["ca_file"]
page = browser.get(flow["auth_uri"])
if page.status_code != 200 or 'name="loginfmt"' not in page.text:
    fail("sign-in form", page.status_code)
answer = browser.post(
    flow["auth_uri"],
    data={"loginfmt": cfg["username"], "passwd": cfg["password"], "action": "signin"},
    allow_redirects=False,
)
location = answer.headers.get("Location", "")
if answer.status_code != 302 or not location.startswith(cfg["redirect_uri"]):
    fail("sign-in", answer.status_code)
auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))

result = app.acquire_token_by_auth_code_flow(flow, auth_response)
if "access_token" not in result:
    fail("acquire_token_by_auth_code_flow", {k: result.get(k) for k in ("error", "error_description")})

accounts = app.get_accounts(username=cfg["username"])
if not accounts:
    fail("get_accounts", "no account in the cache")
refreshed = app.acquire_token_silent_with_error(cfg["scope"], account=accounts[0], force_refresh=True)
if not refreshed or "access_token" not in refreshed:
    fail("acquire_token_silent_with_error", refreshed and {k: refreshed.get(k) for k in ("error", "error_description")})

me = requests.get(
    cfg["graph"],
    headers={"Authorization": "Bearer " + refreshed["access_token"]},
    verify=cfg["ca_file"],
)
if me.status_code != 200:
    fail("graph", me.status_code)

print(json.dumps({
    "msal_version": msal.__version__,
    "username": result["id_token_claims"].get("preferred_username"),
    "refreshed_token_differs": refreshed["access_token"] != result["access_token"],
    "display_name": me.json().get("displayName"),
}))
