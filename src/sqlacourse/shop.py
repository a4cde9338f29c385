"""The course's sample domain: a small shop.

Every lesson after 01 works with these models and the data in ``data/``
(see ``data/README.md``).  Lesson 01 builds models like these step by step;
this module is the finished version.

    Category  1 ─< Category          (self-referential: parent / children)
    Category  1 ─< Product
    Product   >─< Tag                (many-to-many through ``product_tags``)
    Customer  1 ── 1 CustomerProfile (one-to-one)
    Customer  1 ─< Order 1 ─< OrderItem >─ 1 Product   (association object)
    Customer  1 ─< Review >─ 1 Product
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of the shop models."""


# A plain association table: the link has no columns of its own, so Core's
# ``Table`` with ``Column`` is the right tool (``mapped_column`` is for classes).
product_tags = Table(
    "product_tags",
    Base.metadata,
    Column("product_id", ForeignKey("products.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))

    parent: Mapped[Category | None] = relationship(
        back_populates="children", remote_side=[id]
    )
    children: Mapped[list[Category]] = relationship(back_populates="parent")
    products: Mapped[list[Product]] = relationship(back_populates="category")

    def __repr__(self) -> str:
        return f"Category(id={self.id!r}, name={self.name!r})"


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    profile: Mapped[CustomerProfile | None] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    orders: Mapped[list[Order]] = relationship(back_populates="customer")
    reviews: Mapped[list[Review]] = relationship(back_populates="customer")

    def __repr__(self) -> str:
        return f"Customer(id={self.id!r}, name={self.name!r})"


class CustomerProfile(Base):
    __tablename__ = "customer_profiles"

    # The primary key is also the foreign key: at most one profile per customer.
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True
    )
    birth_year: Mapped[int | None]
    newsletter: Mapped[bool] = mapped_column(default=False)
    bio: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship(back_populates="profile")

    def __repr__(self) -> str:
        return f"CustomerProfile(customer_id={self.customer_id!r})"


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)

    products: Mapped[list[Product]] = relationship(
        secondary=product_tags, back_populates="tags"
    )

    def __repr__(self) -> str:
        return f"Tag(id={self.id!r}, name={self.name!r})"


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    category: Mapped[Category] = relationship(back_populates="products")
    tags: Mapped[list[Tag]] = relationship(
        secondary=product_tags, back_populates="products"
    )
    reviews: Mapped[list[Review]] = relationship(back_populates="product")
    order_items: Mapped[list[OrderItem]] = relationship(back_populates="product")

    def __repr__(self) -> str:
        return f"Product(id={self.id!r}, sku={self.sku!r}, price={self.price!r})"


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'paid', 'shipped', 'cancelled')",
            name="ck_orders_status",
        ),
    )

    def __repr__(self) -> str:
        return f"Order(id={self.id!r}, status={self.status!r})"


class OrderItem(Base):
    """Association object: an order line links an order to a product."""

    __tablename__ = "order_items"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id"), primary_key=True
    )
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(back_populates="order_items")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_items_quantity"),
        Index("ix_order_items_product_id", "product_id"),
    )

    def __repr__(self) -> str:
        return (
            f"OrderItem(order_id={self.order_id!r}, product_id={self.product_id!r}, "
            f"quantity={self.quantity!r})"
        )


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    rating: Mapped[int]
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    product: Mapped[Product] = relationship(back_populates="reviews")
    customer: Mapped[Customer] = relationship(back_populates="reviews")

    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating"),
        UniqueConstraint("product_id", "customer_id", name="uq_reviews_product_customer"),
        Index("ix_reviews_product_created", "product_id", "created_at"),
    )

    def __repr__(self) -> str:
        return f"Review(id={self.id!r}, product_id={self.product_id!r}, rating={self.rating!r})"


#: Tables in dependency order (parents first): the order the loader fills them.
TABLES = [t.name for t in Base.metadata.sorted_tables]
