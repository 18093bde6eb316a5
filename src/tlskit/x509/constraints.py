"""The checks that need a whole anchored path: path length and name constraints.

Path length counts non-self-issued intermediates (RFC 5280 6.1.4 (l)/(m)). Name constraints
(RFC 5280 6.1.3 (b)/(c), 4.2.1.10) cover dNSName, iPAddress, rfc822Name,
uniformResourceIdentifier and directoryName; how the other forms, malformed names and the
leaf's subject CN are treated is described in `tlskit.x509.path`. `path_checks` yields an
`Outcome` per check for reports, `path_failure` only the first failure; paths run from the
leaf (index 0) to the trust anchor.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from cryptography import x509
from cryptography.x509.oid import NameOID

from . import names
from .certinfo import CertInfo
from .checks import BudgetExhausted, Context, Outcome, _bad, _ok, first_failure, role_at
from .errors import Reason


def _check_path_length(path: list[CertInfo], j: int) -> Outcome:
    """RFC 5280 6.1.4 (l)/(m): at most pathLenConstraint non-self-issued intermediates may
    follow this CA. The culprit is the first intermediate beyond the limit."""
    ca = path[j]
    role = role_at(j, len(path), True)
    assert ca.path_len is not None
    below = [i for i in range(j - 1, 0, -1) if not path[i].self_issued]
    if len(below) <= ca.path_len:
        return _ok(ca, "path length", f"{len(below)} CA(s) below, limit {ca.path_len}", role)
    culprit = path[below[ca.path_len]]
    detail = (f"exceeds the pathLenConstraint {ca.path_len} of {ca.description} "
              f"({len(below)} intermediate CA(s) below it)")
    return _bad(culprit, "path length", Reason.path_length_exceeded, detail,
                role_at(below[ca.path_len], len(path), True))


def _names_of(info: CertInfo, is_leaf: bool) -> list[tuple[str, object]]:
    """(form, value) pairs subject to name constraints: SAN entries, the subject DN, subject
    emailAddress attributes, and for a leaf without SAN a DNS-looking CN (CA/B practice)."""
    out: list[tuple[str, object]] = []
    for gn in info.san or ():
        out.append((_FORMS.get(type(gn), type(gn).__name__), gn.value))
    if not info.empty_subject and len(info.subject) == 0:
        # The parser refused a subject our structural check let through: it cannot be
        # shown to be inside any subtree, so it is reported under every form that names
        # can take in a subject.
        return [*out, ("directory", None), ("email", None), ("dns", None)]
    if len(info.subject) > 0:
        out.append(("directory", info.subject))
    for attr in info.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
        out.append(("email", str(attr.value)))
    if is_leaf and info.san is None:
        for attr in info.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            value = str(attr.value)
            if _looks_like_dns(value):
                out.append(("dns", value))
    return out


_FORMS: dict[type, str] = {
    x509.DNSName: "dns",
    x509.IPAddress: "ip",
    x509.RFC822Name: "email",
    x509.UniformResourceIdentifier: "uri",
    x509.DirectoryName: "directory",
}


def _looks_like_dns(value: str) -> bool:
    try:
        names.canonical_dns_name(value.removeprefix("*."))
    except names.InvalidHostname:
        return False
    return "." in value


def _in_subtree(form: str, value: object, subtree: x509.GeneralName, excluded: bool) -> bool:
    """Is (form, value) inside ``subtree``? Forms differ -> False (the subtree says nothing)."""
    if _FORMS.get(type(subtree), type(subtree).__name__) != form:
        return False
    base = subtree.value
    if form == "dns":
        test = names.dns_subtree_intersects if excluded else names.dns_in_subtree
        return test(str(value), str(base))
    if form == "ip":
        if not isinstance(base, ipaddress.IPv4Network | ipaddress.IPv6Network):
            return False
        return isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address) and (
            names.ip_in_subtree(value, base))
    if form == "email":
        return names.email_in_subtree(str(value), str(base))
    if form == "uri":
        return names.uri_in_subtree(str(value), str(base))
    if form == "directory":
        return isinstance(value, x509.Name) and isinstance(base, x509.Name) and (
            names.directory_in_subtree(value, base))
    return bool(value == base)


def _show(form: str, value: object) -> str:
    if isinstance(value, x509.Name):
        return f"{form}:{value.rfc4514_string()}"
    return f"{form}:{value}"


def _well_formed_name(form: str, value: object) -> bool:
    """Is the name well formed for its form? One that is not cannot be shown to be inside
    or outside a subtree, so it breaks any constraint on its form."""
    if value is None:
        return False
    if form == "dns":
        return names.valid_dns_san(str(value))
    if form == "email":
        return names.valid_mailbox(str(value))
    if form == "ip":
        return isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address)
    return True


def _constrains(nc: x509.NameConstraints, form: str) -> bool:
    return any(_FORMS.get(type(s), type(s).__name__) == form
               for s in [*(nc.permitted_subtrees or ()), *(nc.excluded_subtrees or ())])


def _name_violation(
    form: str, value: object, nc: x509.NameConstraints
) -> tuple[str, x509.GeneralName | None] | None:
    """(why, subtree) if the name breaks the constraints, else None."""
    if not _well_formed_name(form, value) and _constrains(nc, form):
        return "is not well formed for its name form, under constraints on that form", None
    for subtree in nc.excluded_subtrees or ():
        if _in_subtree(form, value, subtree, excluded=True):
            return "is inside an excluded subtree", subtree
    permitted = [
        s for s in nc.permitted_subtrees or ()
        if _FORMS.get(type(s), type(s).__name__) == form
    ]
    if permitted and not any(_in_subtree(form, value, s, excluded=False) for s in permitted):
        return "is outside every permitted subtree", None
    if form not in _FORMS.values() and (permitted or any(
        _FORMS.get(type(s), type(s).__name__) == form for s in nc.excluded_subtrees or ()
    )):
        return "has a name form that is constrained but not supported", None
    return None


def _check_name_constraints(
    path: list[CertInfo], j: int, ctx: Context | None
) -> Iterator[Outcome]:
    """RFC 5280 6.1.3 (b)/(c): the constraints of path[j] bind every certificate below it,
    except self-issued intermediates. Each certificate's names times the subtrees are
    charged to the validation's budget before they are compared."""
    ca = path[j]
    nc = ca.name_constraints
    assert nc is not None
    subtrees = len(nc.permitted_subtrees or ()) + len(nc.excluded_subtrees or ())
    for i in range(j - 1, -1, -1):
        below = path[i]
        if i > 0 and below.self_issued:
            continue
        names_below = _names_of(below, is_leaf=i == 0)
        if ctx is not None:
            ctx.spend_name_checks(len(names_below) * subtrees)
        for form, value in names_below:
            verdict = _name_violation(form, value, nc)
            if verdict is None:
                continue
            why, subtree = verdict
            where = f" {subtree.value}" if subtree is not None else ""
            detail = (f"has name {_show(form, value)} that {why}{where} of the name "
                      f"constraints of {ca.description}")
            yield _bad(below, "name constraints", Reason.name_constraints_violated, detail,
                       role_at(i, len(path), True))
            return
    yield _ok(ca, "name constraints", "every name below is within the constraints",
              role_at(j, len(path), True))


def path_checks(path: list[CertInfo], ctx: Context | None = None) -> Iterator[Outcome]:
    """Checks that need the whole anchored path: path length and name constraints. With
    a ``ctx``, name constraints spend its budget; running out ends the checks with a
    too_complex failure."""
    for j in range(len(path) - 1, 0, -1):
        ca = path[j]
        if ca.path_len is not None:
            yield _check_path_length(path, j)
        if ca.name_constraints is not None:
            try:
                yield from _check_name_constraints(path, j, ctx)
            except BudgetExhausted as exc:
                yield _bad(ca, "name constraints", Reason.too_complex,
                           f"has name constraints too costly to check against the names "
                           f"below it: {exc}", role_at(j, len(path), True))
                return


def path_failure(path: list[CertInfo], ctx: Context | None = None) -> Outcome | None:
    """The first failure of `path_checks`, skipping the wording of path lengths that hold
    (the common case: a pathLenConstraint 0 intermediate over a leaf). Raises
    `BudgetExhausted` when ``ctx``'s name-constraint budget runs out."""
    for j in range(len(path) - 1, 0, -1):
        ca = path[j]
        # Right above the leaf nothing is below (j == 1): no count to make.
        if ca.path_len is not None and j > 1 and _below(path, j) > ca.path_len:
            return _check_path_length(path, j)
        if ca.name_constraints is not None:
            problem = first_failure(_check_name_constraints(path, j, ctx))
            if problem is not None:
                return problem
    return None


def _below(path: list[CertInfo], j: int) -> int:
    """Non-self-issued intermediates below path[j] (RFC 5280 6.1.4 (l))."""
    return sum(1 for i in range(j - 1, 0, -1) if not path[i].self_issued)
