"""The IKEv1 exchanges of the responder, one module each: :mod:`.main_mode`, :mod:`.quick_mode`,
:mod:`.informational` (with DPD, deletes and INITIAL-CONTACT); what they share with the core is
:mod:`.common`. :mod:`pixgw.ike.core` decodes, reassembles, retransmits, keeps the registry and the
timers, and dispatches to them through the phase-1 (state, input) table."""
