"""CLI: the editor key (`workbench editor-key rotate`) and read-only share links (`workbench share create|list|revoke`)."""

from __future__ import annotations

from datetime import datetime, time

from core.commands import workspace_for
from core.errors import SpecInvalid
from core.project.projects import get_project
from core.share.access import ensure_editor_key, rotate_editor_key
from core.share.links import create_share_link, list_share_links, revoke_share_link


def register(sub) -> None:
    key = sub.add_parser("editor-key", help="the key that opens the editor once the server is shared")
    key_sub = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = key_sub.add_parser("rotate", help="make a new editor key (the old one stops working) and print it once")
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(func=rotate_cmd)

    share = sub.add_parser("share", help="read-only links that open one project for stakeholders")
    share_sub = share.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = share_sub.add_parser("create", help="make a link for a project and print it once")
    create.add_argument("project", help="project id or name")
    create.add_argument("--label", default="", help="who it is for, e.g. 'Steering committee'")
    create.add_argument("--expires", metavar="YYYY-MM-DD", help="last day the link opens (default: no expiry)")
    create.add_argument("--url", default="http://localhost:8501", help="the app's address, to print the full link")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=create_cmd)
    listing = share_sub.add_parser("list", help="list share links (all projects, or one)")
    listing.add_argument("project", nargs="?", help="project id or name")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=list_cmd)
    revoke = share_sub.add_parser("revoke", help="revoke a link at once (its id from `share list`)")
    revoke.add_argument("link", help="link id")
    revoke.add_argument("--json", action="store_true")
    revoke.set_defaults(func=revoke_cmd)


def rotate_cmd(args):
    key = rotate_editor_key(workspace_for(args))
    if args.json:
        return {"editor_key": key}
    return (f"New editor key (shown once): {key}\nOpen the editor at http://<server>/?key={key}\n"
            "The old key no longer opens the editor; sessions already open keep working until they close.")


def create_cmd(args):
    ws = workspace_for(args)
    project = get_project(ws, args.project)
    expires = None
    if args.expires:
        try:
            expires = datetime.combine(datetime.strptime(args.expires, "%Y-%m-%d").date(), time(23, 59))
        except ValueError:
            raise SpecInvalid(f"--expires {args.expires!r} is not a date. Write it as YYYY-MM-DD, e.g. 2027-03-31.") \
                from None
    token = create_share_link(ws, project.id, label=args.label, expires_at=expires)
    new_key = ensure_editor_key(ws)  # from now on editing needs it
    url = f"{args.url.rstrip('/')}/dashboard?share={token}&project={project.id}"
    if args.json:
        return {"project": project.id, "token": token, "url": url, "editor_key": new_key}
    out = f"Share link for {project.name!r} (shown once):\n{url}"
    if new_key:
        out += f"\nEditing now needs the editor key (shown once): {new_key}"
    else:
        out += "\nEditing now needs the editor key (lost it? `workbench editor-key rotate`)."
    return out


def list_cmd(args):
    ws = workspace_for(args)
    project_id = get_project(ws, args.project).id if args.project else None
    links = list_share_links(ws, project_id)
    rows = [{"id": l.id, "project": l.project_id, "label": l.label, "created_at": l.created_at,
             "expires_at": l.expires_at, "status": "active" if l.is_active else ("revoked" if l.revoked else "expired")}
            for l in links]
    if args.json:
        return rows
    if not rows:
        return "No share links."
    return "\n".join(f"{r['id']}  {r['status']:<8} {r['project']}  {r['label'] or '—'}  created {r['created_at']:%Y-%m-%d}"
                     + (f", expires {r['expires_at']:%Y-%m-%d}" if r["expires_at"] else "") for r in rows)


def revoke_cmd(args):
    revoke_share_link(workspace_for(args), args.link)
    return {"revoked": args.link} if args.json else f"Revoked {args.link}: it no longer opens anything."
