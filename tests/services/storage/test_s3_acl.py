"""Issue 14 points 6 and 2: the public access block, GetBucketPolicyStatus, ACLs (canned, grant
headers, AccessControlPolicy documents) and Object Ownership, seen by the owner, another user and
anonymous callers, through boto3 and plain HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from cumulo.client import Client
from cumulo.testing.server import LiveServer

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}
NO_BLOCK = dict.fromkeys(BLOCK_ALL, False)


def fails(call: Any, expected: str, status: int | None = None) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == expected
    if status is not None:
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def public_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def grants(acl: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for grant in acl["Grants"]:
        grantee = grant["Grantee"]
        out.add((grantee.get("ID") or grantee.get("URI"), grant["Permission"]))
    return out


def user_id(s3: Any) -> str:
    return s3.list_buckets()["Owner"]["ID"]  # type: ignore[no-any-return]


@pytest.fixture
def anon(server: LiveServer) -> Any:
    with httpx.Client(base_url=server.s3_url) as client:
        yield client


# --- point 6: public access block and policy status ----------------------------------------------

def test_public_access_block_round_trip(s3: Any, other_s3: Any, bucket: str) -> None:
    fails(lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration", 404)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {**NO_BLOCK, "BlockPublicPolicy": True}
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=BLOCK_ALL)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == BLOCK_ALL
    for call in (lambda: other_s3.get_public_access_block(Bucket=bucket),
                 lambda: other_s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=NO_BLOCK),
                 lambda: other_s3.delete_public_access_block(Bucket=bucket),
                 lambda: other_s3.get_bucket_policy_status(Bucket=bucket)):
        fails(call, "AccessDenied", 403)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == BLOCK_ALL
    s3.delete_public_access_block(Bucket=bucket)
    fails(lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration", 404)


def test_public_access_block_rejects_bad_documents(server: LiveServer, s3: Any, bucket: str) -> None:
    def put_raw(body: bytes) -> None:
        def add(request: Any, **_: Any) -> None:
            request.data = body
        s3.meta.events.register_first("before-sign.s3.PutPublicAccessBlock", add)
        try:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=NO_BLOCK)
        finally:
            s3.meta.events.unregister("before-sign.s3.PutPublicAccessBlock", add)

    fails(lambda: put_raw(b"<nope"), "MalformedXML", 400)
    fails(lambda: put_raw(b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls>"
                          b"</PublicAccessBlockConfiguration>"), "MalformedXML", 400)
    fails(lambda: put_raw(b"<Other/>"), "MalformedXML", 400)
    fails(lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration", 404)


def test_policy_status_and_block_public_policy(s3: Any, bucket: str) -> None:
    fails(lambda: s3.get_bucket_policy_status(Bucket=bucket), "NoSuchBucketPolicy", 404)
    deny_only = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_only)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": False}
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}
    s3.delete_bucket_policy(Bucket=bucket)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    fails(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket)), "AccessDenied", 403)
    fails(lambda: s3.get_bucket_policy(Bucket=bucket), "NoSuchBucketPolicy", 404)  # nothing was stored
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_only)  # not public: allowed
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))


def test_restrict_public_buckets_overrides_a_public_policy(s3: Any, other_s3: Any, bucket: str, anon: Any) -> None:
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"hello")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    assert anon.get(f"/{bucket}/page.html").content == b"hello"
    assert other_s3.get_object(Bucket=bucket, Key="page.html")["Body"].read() == b"hello"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    denied = anon.get(f"/{bucket}/page.html")
    assert denied.status_code == 403 and b"<Code>AccessDenied</Code>" in denied.content
    fails(lambda: other_s3.get_object(Bucket=bucket, Key="page.html"), "AccessDenied", 403)
    assert s3.get_object(Bucket=bucket, Key="page.html")["Body"].read() == b"hello"  # the owner still reads
    s3.delete_public_access_block(Bucket=bucket)
    assert anon.get(f"/{bucket}/page.html").status_code == 200


# --- point 2: ACLs ---------------------------------------------------------------------------------

def test_public_read_object_and_the_block(s3: Any, other_s3: Any, bucket: str, anon: Any) -> None:
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"for all", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"mine")
    owner = user_id(s3)
    assert grants(s3.get_object_acl(Bucket=bucket, Key="public.txt")) == {(owner, "FULL_CONTROL"),
                                                                          (ALL_USERS, "READ")}
    assert grants(s3.get_object_acl(Bucket=bucket, Key="private.txt")) == {(owner, "FULL_CONTROL")}
    assert anon.get(f"/{bucket}/public.txt").content == b"for all"
    assert anon.head(f"/{bucket}/public.txt").status_code == 200
    assert other_s3.get_object(Bucket=bucket, Key="public.txt")["Body"].read() == b"for all"
    assert anon.get(f"/{bucket}/private.txt").status_code == 403
    assert anon.get(f"/{bucket}/missing.txt").status_code == 403  # existence is not revealed
    assert anon.get(f"/{bucket}").status_code == 403  # an object ACL does not open the listing
    assert anon.put(f"/{bucket}/public.txt", content=b"overwrite").status_code == 403
    fails(lambda: other_s3.get_object_acl(Bucket=bucket, Key="public.txt"), "AccessDenied", 403)
    fails(lambda: other_s3.put_object_acl(Bucket=bucket, Key="private.txt", ACL="public-read"), "AccessDenied", 403)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    assert anon.get(f"/{bucket}/public.txt").status_code == 403
    fails(lambda: other_s3.get_object(Bucket=bucket, Key="public.txt"), "AccessDenied", 403)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    assert anon.get(f"/{bucket}/public.txt").content == b"for all"  # blocking new ones keeps existing ones
    fails(lambda: s3.put_object(Bucket=bucket, Key="new.txt", Body=b"x", ACL="public-read"), "AccessDenied", 403)
    fails(lambda: s3.put_object_acl(Bucket=bucket, Key="private.txt", ACL="public-read"), "AccessDenied", 403)
    fails(lambda: s3.put_bucket_acl(Bucket=bucket, ACL="authenticated-read"), "AccessDenied", 403)
    fails(lambda: s3.head_object(Bucket=bucket, Key="new.txt"), "404")  # nothing half-created
    s3.put_object(Bucket=bucket, Key="new.txt", Body=b"x", ACL="private")
    s3.put_object_acl(Bucket=bucket, Key="public.txt", ACL="private")
    assert anon.get(f"/{bucket}/public.txt").status_code == 403


def test_canned_bucket_acls(server: LiveServer, user: Client, s3: Any, other_s3: Any, bucket_name: Any,
                            anon: Any) -> None:
    name = bucket_name()
    s3.create_bucket(Bucket=name, ACL="public-read")
    s3.put_object(Bucket=name, Key="a", Body=b"1")
    owner = user_id(s3)
    assert grants(s3.get_bucket_acl(Bucket=name)) == {(owner, "FULL_CONTROL"), (ALL_USERS, "READ")}
    listed = anon.get(f"/{name}?list-type=2")
    assert listed.status_code == 200 and b"<Key>a</Key>" in listed.content
    assert anon.get(f"/{name}/a").status_code == 403  # bucket READ lists, it does not read objects
    assert anon.put(f"/{name}/b", content=b"2").status_code == 403
    s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
    assert anon.put(f"/{name}/b", content=b"2").status_code == 200
    assert s3.get_object(Bucket=name, Key="b")["Body"].read() == b"2"  # the bucket owner owns it
    assert anon.delete(f"/{name}/b").status_code == 204
    s3.put_bucket_acl(Bucket=name, ACL="authenticated-read")
    assert anon.get(f"/{name}?list-type=2").status_code == 403
    assert [o["Key"] for o in other_s3.list_objects_v2(Bucket=name)["Contents"]] == ["a"]
    fails(lambda: other_s3.put_object(Bucket=name, Key="c", Body=b"x"), "AccessDenied", 403)
    fails(lambda: other_s3.get_bucket_acl(Bucket=name), "AccessDenied", 403)
    fails(lambda: other_s3.put_bucket_acl(Bucket=name, ACL="public-read-write"), "AccessDenied", 403)
    def rest_public() -> bool:
        return next(b["public"] for b in user.storage.buckets() if b["name"] == name)  # type: ignore[no-any-return]

    assert rest_public() is True  # the REST API says so too
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    assert rest_public() is False
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="private")
    assert rest_public() is False
    assert grants(s3.get_bucket_acl(Bucket=name)) == {(owner, "FULL_CONTROL")}
    fails(lambda: other_s3.list_objects_v2(Bucket=name), "AccessDenied", 403)
    fails(lambda: s3.put_bucket_acl(Bucket=name, ACL="no-such-acl"), "InvalidArgument", 400)


def test_grants_by_id_email_and_document(s3: Any, other_s3: Any, other_user: Client, bucket: str, anon: Any) -> None:
    s3.put_object(Bucket=bucket, Key="shared", Body=b"shared bytes")
    owner, other = user_id(s3), user_id(other_s3)
    fails(lambda: other_s3.get_object(Bucket=bucket, Key="shared"), "AccessDenied", 403)
    s3.put_object_acl(Bucket=bucket, Key="shared", GrantRead=f'id="{other}"')
    assert other_s3.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"shared bytes"
    assert anon.get(f"/{bucket}/shared").status_code == 403
    fails(lambda: other_s3.get_object_acl(Bucket=bucket, Key="shared"), "AccessDenied", 403)
    email = other_user.identity.me()["email"]
    s3.put_object_acl(Bucket=bucket, Key="shared", GrantFullControl=f'emailAddress="{email.upper()}"')
    acl = other_s3.get_object_acl(Bucket=bucket, Key="shared")
    assert grants(acl) == {(other, "FULL_CONTROL")}  # the email became the user's canonical id
    assert acl["Owner"]["ID"] == owner
    other_s3.put_object_acl(Bucket=bucket, Key="shared", AccessControlPolicy={
        "Owner": {"ID": owner},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"},
                   {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ"}]})
    assert grants(s3.get_object_acl(Bucket=bucket, Key="shared")) == {(owner, "FULL_CONTROL"),
                                                                      (AUTHENTICATED, "READ")}
    assert anon.get(f"/{bucket}/shared").status_code == 403  # authenticated users only
    assert other_s3.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"shared bytes"
    fails(lambda: other_s3.put_object_acl(Bucket=bucket, Key="shared", ACL="public-read"), "AccessDenied", 403)
    fails(lambda: s3.put_object_acl(Bucket=bucket, Key="shared", GrantRead='emailAddress="nobody@example.invalid"'),
          "UnresolvableGrantByEmailAddress", 400)
    fails(lambda: s3.put_object_acl(Bucket=bucket, Key="shared", GrantRead='id="not-a-user"'), "InvalidArgument", 400)
    fails(lambda: s3.put_object_acl(Bucket=bucket, Key="shared", GrantRead="garbage"), "InvalidArgument", 400)
    fails(lambda: s3.put_object_acl(Bucket=bucket, Key="shared", ACL="public-read", GrantRead=f'id="{other}"'),
          "InvalidRequest", 400)
    fails(lambda: s3.put_object_acl(Bucket=bucket, Key="missing", ACL="public-read"), "NoSuchKey", 404)
    fails(lambda: s3.put_object_acl(Bucket=bucket, Key="shared", AccessControlPolicy={
        "Owner": {"ID": owner}, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner},
                                            "Permission": "EVERYTHING"}]}), "MalformedACLError", 400)
    assert grants(s3.get_object_acl(Bucket=bucket, Key="shared")) == {(owner, "FULL_CONTROL"),
                                                                      (AUTHENTICATED, "READ")}


def test_acls_on_copy_multipart_and_versions(s3: Any, bucket: str, anon: Any) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ACL="public-read")
    s3.copy_object(Bucket=bucket, Key="copy-private", CopySource={"Bucket": bucket, "Key": "src"})
    assert anon.get(f"/{bucket}/copy-private").status_code == 403  # a copy does not inherit the ACL
    s3.copy_object(Bucket=bucket, Key="copy-public", CopySource={"Bucket": bucket, "Key": "src"}, ACL="public-read")
    assert anon.get(f"/{bucket}/copy-public").content == b"copy me"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ACL="public-read")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"parts")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert anon.get(f"/{bucket}/mp").content == b"parts"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"v1", ACL="public-read")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"v2")["VersionId"]
    assert anon.get(f"/{bucket}/doc").status_code == 403  # the new version is private
    got = s3.get_object_acl(Bucket=bucket, Key="doc", VersionId=v1)
    assert (ALL_USERS, "READ") in grants(got)
    s3.put_object_acl(Bucket=bucket, Key="doc", VersionId=v2, ACL="public-read")
    assert anon.get(f"/{bucket}/doc").content == b"v2"


def test_object_ownership_controls(s3: Any, bucket: str, bucket_name: Any, anon: Any) -> None:
    fails(lambda: s3.get_bucket_ownership_controls(Bucket=bucket), "OwnershipControlsNotFoundError", 404)
    s3.put_object(Bucket=bucket, Key="old-public", Body=b"x", ACL="public-read")
    rules = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules)
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == rules
    assert anon.get(f"/{bucket}/old-public").status_code == 403  # ACLs no longer count
    fails(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read"),
          "AccessControlListNotSupported", 400)
    fails(lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"), "AccessControlListNotSupported", 400)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    fails(lambda: s3.get_bucket_ownership_controls(Bucket=bucket), "OwnershipControlsNotFoundError", 404)
    assert anon.get(f"/{bucket}/old-public").status_code == 200
    fails(lambda: s3.create_bucket(Bucket=bucket_name(), ACL="public-read", ObjectOwnership="BucketOwnerEnforced"),
          "InvalidBucketAclWithObjectOwnership", 400)
    public = bucket_name()
    s3.create_bucket(Bucket=public, ACL="public-read")
    fails(lambda: s3.put_bucket_ownership_controls(Bucket=public, OwnershipControls=rules),
          "InvalidBucketAclWithObjectOwnership", 400)
    enforced = bucket_name()
    s3.create_bucket(Bucket=enforced, ObjectOwnership="BucketOwnerEnforced")
    assert s3.get_bucket_ownership_controls(Bucket=enforced)["OwnershipControls"] == rules
    fails(lambda: s3.put_bucket_ownership_controls(Bucket=enforced, OwnershipControls={
        "Rules": [{"ObjectOwnership": "Nobody"}]}), "MalformedXML", 400)
