"""Concrete models, each defined only when a shop's fork has not registered its own."""

from oscar.core.loading import is_model_registered

from oscar_ordercancel.abstract_models import (
    AbstractCancelJob,
    AbstractCancelJobAttempt,
    AbstractCancellationBatch,
    AbstractCancellationBatchRow,
    AbstractCancellationSettings,
    AbstractExpiryReminder,
    AbstractOrderCancellation,
    AbstractOrderCancellationLine,
    AbstractOrderStatusMapping,
    AbstractWithdrawalDeclaration,
    AbstractWithdrawalDeclarationLine,
)

__all__ = []

if not is_model_registered("oscar_ordercancel", "OrderStatusMapping"):

    class OrderStatusMapping(AbstractOrderStatusMapping):
        pass

    __all__.append("OrderStatusMapping")

if not is_model_registered("oscar_ordercancel", "CancellationSettings"):

    class CancellationSettings(AbstractCancellationSettings):
        pass

    __all__.append("CancellationSettings")

if not is_model_registered("oscar_ordercancel", "OrderCancellation"):

    class OrderCancellation(AbstractOrderCancellation):
        pass

    __all__.append("OrderCancellation")

if not is_model_registered("oscar_ordercancel", "OrderCancellationLine"):

    class OrderCancellationLine(AbstractOrderCancellationLine):
        pass

    __all__.append("OrderCancellationLine")

if not is_model_registered("oscar_ordercancel", "CancelJob"):

    class CancelJob(AbstractCancelJob):
        pass

    __all__.append("CancelJob")

if not is_model_registered("oscar_ordercancel", "CancelJobAttempt"):

    class CancelJobAttempt(AbstractCancelJobAttempt):
        pass

    __all__.append("CancelJobAttempt")

if not is_model_registered("oscar_ordercancel", "CancellationBatch"):

    class CancellationBatch(AbstractCancellationBatch):
        pass

    __all__.append("CancellationBatch")

if not is_model_registered("oscar_ordercancel", "CancellationBatchRow"):

    class CancellationBatchRow(AbstractCancellationBatchRow):
        pass

    __all__.append("CancellationBatchRow")

if not is_model_registered("oscar_ordercancel", "WithdrawalDeclaration"):

    class WithdrawalDeclaration(AbstractWithdrawalDeclaration):
        pass

    __all__.append("WithdrawalDeclaration")

if not is_model_registered("oscar_ordercancel", "WithdrawalDeclarationLine"):

    class WithdrawalDeclarationLine(AbstractWithdrawalDeclarationLine):
        pass

    __all__.append("WithdrawalDeclarationLine")

if not is_model_registered("oscar_ordercancel", "ExpiryReminder"):

    class ExpiryReminder(AbstractExpiryReminder):
        pass

    __all__.append("ExpiryReminder")
