"""Contacts: the people who call, looked up by phone number for the screen pop.

A number may belong to several contacts (a household, a switchboard): lookup returns all of
them and the desktop offers a Multi-Match choice. Numbers are stored in E.164 so lookup is
an exact, indexed match.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from . import fields as f


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    id: Optional[int] = Field(default=None, primary_key=True)
    # "Contact ID" / account number as the CRM or billing system knows it.
    account_number: str = Field(unique=True, index=True)
    first_name: str = ""
    last_name: str = ""
    region: str = "US"

    def check_fields(self) -> None:
        self.account_number = f.require_text(self.account_number, "account_number", 64)
        self.first_name = f.require_text(self.first_name, "first_name", 80, required=False) or ""
        self.last_name = f.require_text(self.last_name, "last_name", 80, required=False) or ""
        self.region = f.require_region(self.region, "region")


class ContactPhone(SQLModel, table=True):
    __tablename__ = "contact_phone"
    __table_args__ = (UniqueConstraint("contact_id", "number"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True, ondelete="CASCADE")
    number: str = Field(index=True)
    label: str = ""
    # Filled in by the session hook from the owning contact when not given.
    region: Optional[str] = Field(default=None, sa_column_kwargs={"nullable": True})

    def check_fields(self) -> None:
        self.number = f.to_e164(self.number, "number", self.region)
        self.label = f.require_text(self.label, "label", 40, required=False) or ""
