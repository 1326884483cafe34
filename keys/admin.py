"""The full :class:`Keyring`: the data path plus the security team's verbs.

Every verb runs under the keyring write lock on a freshly loaded copy of the file and commits
exactly one audit entry (see :mod:`keys.journal`); a verb that finds nothing to do writes
nothing.

Destroying (``destroy``, ``expire``) also moves every remaining key to a fresh KEK in the same
write: an older copy of ``keyring.json`` is wrapped by a KEK that is then retired, so the KEK in
service never opens a destroyed key, whatever backup of the keyring turns up. The new KEK comes
from a supplier called only when something is destroyed (see :mod:`keys.shred`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from keys import ops, storage
from keys.audit import AuditDraft, AuditLog, AuditReport
from keys.epochs import epoch_of, epoch_start, is_expired
from keys.exceptions import InvalidPurpose, RefusedOperation
from keys.kek import Kek
from keys.keyring import KeyringCore
from keys.listing import KeyRow, key_rows
from keys.model import Body

NewKek = Callable[[], Kek]
"""Supplies the fresh KEK a destroy or rewrap moves the keyring to."""


class Keyring(KeyringCore):
    """A keyring with encrypt/decrypt/pseudonym and rotate/destroy/expire/rewrap/audit."""

    def ensure(self) -> list[str]:
        """Create keys for missing epochs in ``[now - 7 days, next epoch]`` of every purpose.

        Returns:
            ``"purpose:epoch"`` of each epoch created (empty: nothing written).
        """
        now = self._clock()

        def change(body: Body) -> tuple[AuditDraft | None, list[str]]:
            created = ops.ensure_epochs(body, self._kek, self._specs, now)
            if not created:
                return None, created
            return AuditDraft("ensure", detail={"created": ",".join(created)}), created

        return self._mutate(change)

    def rotate(self, purpose: str, epoch: str | None = None) -> tuple[str, str]:
        """Add a new encryption key to ``epoch`` (default: the current one) and promote it.

        The previous active key stays, decrypt-only. Pseudonym keys never rotate within an
        epoch (pseudonyms stay stable).

        Returns:
            ``(old key id, new key id)``.
        """
        epoch = epoch or self.epoch_of(purpose, self._clock())
        now = self._clock()

        def change(body: Body) -> tuple[AuditDraft, tuple[str, str]]:
            old, new = ops.rotate(body, self._kek, purpose, epoch, now)
            ids = tuple(i for i in (old, new) if i)
            return AuditDraft("rotate", purpose, epoch, ids, {"reason": "requested"}), (old, new)

        return self._mutate(change)

    def _purpose_kind(self, body: Body, purpose: str) -> str:
        if purpose not in body.purposes:
            raise InvalidPurpose(f"the keyring has no purpose {purpose!r}")
        return body.purposes[purpose].epoch_kind

    def _doomed(self, body: Body, purpose: str, before: str, now: datetime) -> list[str]:
        """Live epochs of ``purpose`` starting before ``before``, oldest first."""
        kind = self._purpose_kind(body, purpose)
        cutoff, current = epoch_start(kind, before), epoch_of(kind, now)
        if cutoff > epoch_start(kind, current):
            raise RefusedOperation(
                f"--before {before} would destroy the current epoch {current} of {purpose}, "
                f"whose keys are in use: pass {current} or an earlier epoch"
            )
        epochs = body.purposes[purpose].epochs
        return sorted((e for e, k in epochs.items()
                       if k.status == "live" and epoch_start(kind, e) < cutoff),
                      key=lambda e: epoch_start(kind, e))

    def _expired(self, body: Body, now: datetime) -> list[tuple[str, str]]:
        """``(purpose, epoch)`` of every live epoch past its purpose's retention."""
        found = []
        for spec in self._specs:
            stored = body.purposes.get(spec.name)
            for epoch, keys in sorted((stored.epochs if stored else {}).items()):
                if keys.status == "live" and is_expired(
                    spec.epoch, epoch, spec.retention_days, now
                ):
                    found.append((spec.name, epoch))
        return found

    def epochs_before(self, purpose: str, before: str) -> list[str]:
        """What :meth:`destroy` would destroy now (nothing written)."""
        self.refresh()
        return self._doomed(self._body, purpose, before, self._clock())

    def expired_epochs(self) -> list[str]:
        """``"purpose:epoch"`` that :meth:`expire` would destroy now (nothing written)."""
        self.refresh()
        return [f"{p}:{e}" for p, e in self._expired(self._body, self._clock())]

    def _move_to(self, body: Body, new_kek: NewKek) -> dict[str, str]:
        """Rewrap ``body`` under the supplier's KEK (installed after the commit)."""
        new = new_kek()
        if new.kek_id == self._kek.kek_id:
            raise RefusedOperation("the new KEK is the current one: a destroy needs a fresh KEK")
        count = ops.rewrap(body, self._kek, new)
        self._pending_kek = new
        return {"kek_from": self._kek.kek_id, "kek_to": new.kek_id, "rewrapped": str(count)}

    def destroy(self, purpose: str, before: str, new_kek: NewKek) -> list[str]:
        """Destroy every live epoch of ``purpose`` that starts before epoch ``before``.

        The remaining keys move to ``new_kek()`` in the same write (called only if an epoch
        is destroyed).

        Returns:
            The epochs destroyed, oldest first (empty: nothing written).

        Raises:
            RefusedOperation: ``before`` is after the current epoch (its keys are in use), or
                the new KEK is the current one.
        """
        now = self._clock()

        def change(body: Body) -> tuple[AuditDraft | None, list[str]]:
            doomed = self._doomed(body, purpose, before, now)
            ids = [i for e in doomed for i in ops.destroy_epoch(body, purpose, e, now)]
            if not doomed:
                return None, doomed
            detail = {"before": before, "epochs": ",".join(doomed), **self._move_to(body, new_kek)}
            return AuditDraft("destroy", purpose, None, tuple(ids), detail), doomed

        return self._mutate(change)

    def expire(self, new_kek: NewKek) -> list[str]:
        """Destroy every epoch whose start is older than its purpose's retention.

        The remaining keys move to ``new_kek()`` in the same write, as in :meth:`destroy`.

        Returns:
            ``"purpose:epoch"`` of each epoch destroyed (empty: nothing written).
        """
        now = self._clock()

        def change(body: Body) -> tuple[AuditDraft | None, list[str]]:
            done: list[str] = []
            ids: list[str] = []
            for purpose, epoch in self._expired(body, now):
                ids += ops.destroy_epoch(body, purpose, epoch, now)
                done.append(f"{purpose}:{epoch}")
            if not done:
                return None, done
            detail = {"epochs": ",".join(done), **self._move_to(body, new_kek)}
            return AuditDraft("expire", key_ids=tuple(ids), detail=detail), done

        return self._mutate(change)

    def rewrap(self, new_kek: Kek | NewKek) -> int:
        """Re-wrap every live key under ``new_kek``; the data and key ids are untouched.

        ``new_kek`` may be a supplier, called under the keyring lock (see
        :class:`keys.masterfile.FreshMasterFile`).

        Returns:
            How many keys were re-wrapped.

        Raises:
            RefusedOperation: ``new_kek`` is the current KEK.
        """
        supply = new_kek if callable(new_kek) else (lambda: new_kek)

        def change(body: Body) -> tuple[AuditDraft, int]:
            old = self._kek
            new = supply()
            if new.kek_id == old.kek_id:
                raise RefusedOperation("the new KEK is the current one: nothing to rewrap")
            count = ops.rewrap(body, old, new)
            self._pending_kek = new
            detail = {"from": old.kek_id, "to": new.kek_id, "backend": new.backend,
                      "keys": str(count)}
            return AuditDraft("rewrap", detail=detail), count

        return self._mutate(change)

    def record(self, action: str, purpose: str | None = None,
               detail: dict[str, str] | None = None) -> None:
        """Audit an operation that changes no key (``list``, ``decrypt``, ``audit``)."""
        self._mutate(lambda body: (AuditDraft(action, purpose, detail=detail or {}), None))

    def describe(self) -> list[KeyRow]:
        """Metadata of every key (no key material), after a refresh."""
        self.refresh()
        return key_rows(self._body)

    def verify_audit(self) -> AuditReport:
        """Verify the audit log against the keyring on disk (under the lock).

        Raises:
            AuditChainBroken: an entry was edited, removed or reordered.
        """
        with storage.locked(self._paths.lock):
            raw, _ = self._read()
            body, integrity_key = self._decode(raw)
            live = {row.key_id for row in key_rows(body) if row.status != "destroyed"}
            return AuditLog(self._paths.audit_log).verify(
                storage.derive_key(integrity_key, "audit"), body.audit, storage.digest(raw), live
            )
