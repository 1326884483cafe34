"""The full :class:`Keyring`: the data path plus the security team's verbs.

Every verb runs under the keyring write lock on a freshly loaded copy of the file and commits
exactly one audit entry (see :mod:`keys.journal`); a verb that finds nothing to do writes
nothing.
"""

from __future__ import annotations

from keys import ops, storage
from keys.audit import AuditDraft, AuditLog, AuditReport
from keys.epochs import epoch_of, epoch_start, is_expired
from keys.exceptions import InvalidPurpose, RefusedOperation
from keys.kek import Kek
from keys.keyring import KeyringCore
from keys.listing import KeyRow, key_rows
from keys.model import Body


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

    def destroy(self, purpose: str, before: str) -> list[str]:
        """Destroy every live epoch of ``purpose`` that starts before epoch ``before``.

        Returns:
            The epochs destroyed, oldest first (empty: nothing written).

        Raises:
            RefusedOperation: ``before`` is after the current epoch (its keys are in use).
        """
        now = self._clock()

        def change(body: Body) -> tuple[AuditDraft | None, list[str]]:
            kind = self._purpose_kind(body, purpose)
            cutoff, current = epoch_start(kind, before), epoch_of(kind, now)
            if cutoff > epoch_start(kind, current):
                raise RefusedOperation(
                    f"--before {before} would destroy the current epoch {current} of {purpose}, "
                    f"whose keys are in use: pass {current} or an earlier epoch"
                )
            epochs = body.purposes[purpose].epochs
            doomed = sorted((e for e, k in epochs.items()
                             if k.status == "live" and epoch_start(kind, e) < cutoff),
                            key=lambda e: epoch_start(kind, e))
            ids = [i for e in doomed for i in ops.destroy_epoch(body, purpose, e, now)]
            if not doomed:
                return None, doomed
            detail = {"before": before, "epochs": ",".join(doomed)}
            return AuditDraft("destroy", purpose, None, tuple(ids), detail), doomed

        return self._mutate(change)

    def expire(self) -> list[str]:
        """Destroy every epoch whose start is older than its purpose's retention.

        Returns:
            ``"purpose:epoch"`` of each epoch destroyed (empty: nothing written).
        """
        now = self._clock()

        def change(body: Body) -> tuple[AuditDraft | None, list[str]]:
            done: list[str] = []
            ids: list[str] = []
            for spec in self._specs:
                stored = body.purposes.get(spec.name)
                for epoch, keys in sorted((stored.epochs if stored else {}).items()):
                    if keys.status == "live" and is_expired(
                        spec.epoch, epoch, spec.retention_days, now
                    ):
                        ids += ops.destroy_epoch(body, spec.name, epoch, now)
                        done.append(f"{spec.name}:{epoch}")
            if not done:
                return None, done
            return AuditDraft("expire", key_ids=tuple(ids), detail={"epochs": ",".join(done)}), done

        return self._mutate(change)

    def rewrap(self, new_kek: Kek) -> int:
        """Re-wrap every live key under ``new_kek``; the data and key ids are untouched.

        Returns:
            How many keys were re-wrapped.

        Raises:
            RefusedOperation: ``new_kek`` is the current KEK.
        """
        old = self._kek
        if new_kek.kek_id == old.kek_id:
            raise RefusedOperation("the new KEK is the current one: nothing to rewrap")

        def change(body: Body) -> tuple[AuditDraft, int]:
            count = ops.rewrap(body, old, new_kek)
            detail = {"from": old.kek_id, "to": new_kek.kek_id, "backend": new_kek.backend,
                      "keys": str(count)}
            return AuditDraft("rewrap", detail=detail), count

        return self._mutate(change, kek_after=new_kek)

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
