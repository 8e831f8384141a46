"""The fallback declaration's content, laid out after Annexe 2 (standard) or Annexe 3 (simplified) of the
DGDDI's "Procédure de secours DELTA Import" (FR-DGDDI-SECOURS-DELTA-IMPORT in docs/sources.md). Every
field of the annex is listed: filled from the declaration where Écluse has the data, left empty (None)
for completion by hand otherwise."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ecluse import policies
from ecluse.clock import parse_iso
from ecluse.records import Record

Getter = Callable[[dict[str, Any], Record], str | None]


def _declarant(body: dict[str, Any], _: Record) -> str:
    party = body.get("declarant", {})
    address = party.get("address", {})
    where = ", ".join(str(address.get(k, "")) for k in ("street", "postcode", "city", "country") if address.get(k))
    return f"{party.get('eori', '')} {party.get('name', '')}, {where}".strip()


def _total(body: dict[str, Any], _: Record) -> str | None:
    values = [i.get("value", {}) for i in body.get("items", [])]
    currencies = {v.get("currency") for v in values}
    if len(currencies) != 1:
        return None
    return str(sum((Decimal(str(v.get("amount", "0"))) for v in values), Decimal("0")))


def _currency(body: dict[str, Any], _: Record) -> str | None:
    currencies = {i.get("value", {}).get("currency") for i in body.get("items", [])}
    return currencies.pop() if len(currencies) == 1 else None


def _incoterm(body: dict[str, Any], _: Record) -> str | None:
    parts = [body.get("incoterm"), body.get("delivery_place")]
    return " ".join(p for p in parts if p) or None


def _documents(body: dict[str, Any], _: Record) -> str | None:
    return "; ".join(f"{d.get('code')} {d.get('reference')}" for d in body.get("documents", [])) or None


def _field(key: str) -> Getter:
    return lambda body, _: None if body.get(key) is None else str(body.get(key))


_GENERAL: list[tuple[str, Getter | None]] = [
    ("Numéro de référence interne (LRN)", lambda _, r: r.lrn),
    ("Type de déclaration", lambda b, _: f"{b.get('direction', '')} ({b.get('kind', '')})"),
    ("Modalité de dédouanement", None),
    ("Autorisation(s)", None),
    ("Bureau de déclaration", _field("customs_office")),
    ("Bureau de présentation", None),
    ("Importateur (SIREN et adresse)", None),
    ("Déclarant (SIREN et adresse)", _declarant),
    ("Personne à contacter", None),
    ("Mode de représentation", None),
    ("Représentant (si besoin)", None),
    ("Garantie (référence, type de garantie et bureau de garantie)", None),
    ("Report de paiement", None),
]
_MARKS: dict[str, Getter] = {
    "Référence(s) complémentaire(s)": lambda _, r: "; ".join(r.references) or None,
    "Mention(s) spéciale(s)": lambda _, r: "; ".join(r.marks) or None,
    "Document(s) d'accompagnement(s)": _documents,
    "Masse brute totale": lambda b, _: f"{b.get('gross_mass_kg')} kg" if b.get("gross_mass_kg") is not None else None,
    "Montant total facturé": _total,
    "Devise facture": _currency,
    "Conditions de livraison INCOTERM": _incoterm,
}
_STANDARD_COMMON = [
    "Nature de la transaction",
    "Montant total facturé",
    "Devise facture",
    "Autres acteurs de la chaîne logistique",
    "Acheteur",
    "Vendeur",
    "Destinataire",
    "Exportateur",
    "Conditions de livraison INCOTERM",
    "Pays d'expédition des marchandises",
    "Pays de destination des marchandises",
    "Région de destination des marchandises",
    "Entrepôt",
    "Document(s) précédent(s)",
    "Document(s) d'accompagnement(s)",
    "Référence(s) complémentaire(s)",
    "Mention(s) spéciale(s)",
    "Ajouts et déductions",
    "Référence fiscale complémentaire",
    "Transport en conteneur",
    "Mode de transport intérieur",
    "Mode de transport à la frontière",
    "Masse brute totale",
    "Équipement de transport",
    "Référence des marchandises",
    "Localisation des marchandises",
    "Moyen de transport à l'arrivée",
    "Moyen de transport actif à la frontière",
    "Document de transport",
]
_SIMPLIFIED_COMMON = [
    "Montant total facturé",
    "Devise facture",
    "Autres acteurs de la chaîne logistique",
    "Exportateur",
    "Pays d'expédition des marchandises",
    "Entrepôt",
    "Document(s) précédent(s)",
    "Document(s) d'accompagnement(s)",
    "Référence(s) complémentaire(s)",
    "Mention(s) spéciale(s)",
    "Ajouts et déductions",
    "Référence fiscale complémentaire",
    "Transport en conteneur",
    "Masse brute totale",
    "Localisation des marchandises",
    "Document de transport",
]
ItemGetter = Callable[[dict[str, Any]], str | None]
_ITEM: dict[str, ItemGetter] = {
    "Numéro de l'article": lambda i: str(i.get("number")),
    "Régime": lambda i: i.get("procedure"),
    "Origine": lambda i: i.get("origin"),
    "Marchandises (désignation, code CUS et numéro d'ordre du contingent)": lambda i: " — ".join(
        str(p) for p in (i.get("description"), i.get("commodity_code"), i.get("quota_order_number")) if p
    ),
    "Mesure des marchandises": lambda i: f"{i.get('net_mass_kg')} kg net",
    "Montant de l'article facturé": lambda i: (
        f"{i.get('value', {}).get('amount')} {i.get('value', {}).get('currency')}"
    ),
}
_STANDARD_ITEM = [
    "Numéro de l'article",
    "Valeur statistique",
    "Nature de la transaction",
    "Autorisation(s)",
    "Régime",
    "Code régime complémentaire",
    "Autres acteurs de la chaîne logistique",
    "Acheteur",
    "Vendeur",
    "Destinataire",
    "Exportateur",
    "Origine",
    "Pays d'expédition",
    "Destination",
    "Marchandises (désignation, code CUS et numéro d'ordre du contingent)",
    "Mesure des marchandises",
    "Montant de l'article facturé",
    "Calcul des impositions (préférence, droits et impositions et base d'imposition)",
    "Conditionnement (nature et nombre des colis)",
    "Document(s) précédent(s)",
    "Document(s) d'accompagnement(s)",
    "Document(s) de transport",
    "Référence complémentaire",
    "Mentions spéciales",
    "Méthode d'évaluation",
    "Ajouts et déductions",
    "Ajustement de valeur",
    "Référence fiscale complémentaire",
    "Données comptables à fournir",
    "Identifiant du crédit enlèvement",
    "Identifiant du crédit opérations diverses",
]
_SIMPLIFIED_ITEM = [
    "Numéro de l'article",
    "Autorisation(s)",
    "Régime",
    "Code régime complémentaire",
    "Autres acteurs de la chaîne logistique",
    "Destinataire",
    "Exportateur",
    "Origine",
    "Pays d'expédition",
    "Marchandises (désignation, code CUS et numéro d'ordre du contingent)",
    "Mesure des marchandises",
    "Montant de l'article facturé",
    "Préférence tarifaire sollicitée",
    "Conditionnement (nature et nombre des colis)",
    "Document(s) précédent(s)",
    "Document(s) d'accompagnement(s)",
    "Document(s) de transport",
    "Référence(s) complémentaire(s)",
    "Mentions spéciales",
    "Référence fiscale complémentaire",
    "Données comptables à fournir",
    "Identifiant du crédit enlèvement",
    "Identifiant du crédit opérations diverses",
]


def build(record: Record) -> dict[str, Any]:
    """The fallback declaration as data: what the PDF prints and what `Accept: application/json` returns."""
    body = record.body or {}
    simplified = body.get("kind") == "simplified"
    mention = policies.policy(record.system).fallback.special_mention
    common_labels = _SIMPLIFIED_COMMON if simplified else _STANDARD_COMMON
    item_labels = _SIMPLIFIED_ITEM if simplified else _STANDARD_ITEM

    def fields(pairs: list[tuple[str, Getter | None]]) -> list[dict[str, Any]]:
        return [{"label": label, "value": getter(body, record) if getter else None} for label, getter in pairs]

    established = parse_iso(record.fallback_at) if record.fallback_at else None
    return {
        "annex": "3" if simplified else "2",
        "title": (f"Code {mention} procédure de secours" if mention else "Fallback declaration")
        + (" — déclaration simplifiée" if simplified else ""),
        "customs_office": body.get("customs_office"),
        "lrn": record.lrn,
        "system": record.system,
        "marks": list(record.marks),
        "references": list(record.references),
        "sections": [
            {"title": "Données générales", "fields": fields(_GENERAL)},
            {"title": "Données communes", "fields": fields([(label, _MARKS.get(label)) for label in common_labels])},
        ],
        "items": [
            [{"label": label, "value": _ITEM[label](item) if label in _ITEM else None} for label in item_labels]
            for item in body.get("items", [])
        ],
        "established_at": f"{established:%d/%m/%Y %H:%M} UTC" if established else None,
        "signature": None,
    }
