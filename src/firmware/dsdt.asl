/*
 * The DSDT of transvisor's PC: the PCI host bridge with its windows and
 * interrupt routing, the ISA devices Linux's PNP/ACPI enumeration looks for,
 * the HPET and the S5 (power-off) sleep type (ACPI 6.4 sections 5.2.11.1,
 * 6.2, 6.4, 7.4.2). Compiled by iasl at build time into a C array
 * (src/CMakeLists.txt); the VMM writes it into guest memory unchanged.
 *
 * ASL cannot include C++ headers, so every address, port, IRQ and sleep
 * type here repeats a constant of src/devices/pc_platform.h (named in the
 * comments). tests/unit/acpi_tables_test.cc reads the compiled AML back and
 * checks them against that header; change both together.
 *
 * No Processor or ACPI0007 objects: the CPU count is chosen at run time, and
 * Linux brings the CPUs up from the MADT alone.
 */
DefinitionBlock ("", "DSDT", 2, "TVISOR", "TVPC    ", 1)
{
    /* Interrupt model chosen by the OS through \_PIC (ACPI 5.8.1):
     * 0 = 8259 PIC, 1 = I/O APIC. _PRT answers according to it. */
    Name (PICM, Zero)
    Method (_PIC, 1, NotSerialized)
    {
        PICM = Arg0
    }

    /* SLP_TYPa/SLP_TYPb for S5 (soft off): pc::kSleepTypeS5. */
    Name (_S5, Package (0x04) { 0x00, 0x00, Zero, Zero })

    Scope (_SB)
    {
        /* PCI host bridge, bus 0 (i440FX). No _ADR: a device has a _HID
         * or an _ADR, not both (ACPI 6.1.1). */
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_BBN, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
                /* Configuration mechanism #1: pc::kPciConfigAddress..+7. */
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                /* Legacy VGA memory. */
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
                /* BAR window: from the 3 GiB RAM limit (vmm/config.h
                 * kMaxMemBytes) up to the I/O APIC at pc::kIoapicBase. */
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, 0xC0000000, 0xFEBFFFFF, 0x00000000, 0x3EC00000)
            })

            /*
             * INTx routing of slots 1-31 (slot 0 is the host bridge). Pin P
             * (0 = INTA#) of slot S drives link (S + P + 3) mod 4, as
             * pc::pci_link. With the I/O APIC the link is GSI
             * pc::kPciLinkGsiBase (16) + link; with the PIC it is one of the
             * link devices LNKA-LNKD below (ACPI 6.2.13).
             */
            Method (_PRT, 0, NotSerialized)
            {
                Local0 = Package (0x7C) {}
                Local1 = Zero
                Local2 = One
                While (Local2 < 0x20)
                {
                    Local3 = Zero
                    While (Local3 < 0x04)
                    {
                        Local4 = (Local2 + Local3 + 0x03) & 0x03
                        If (PICM)
                        {
                            Local5 = Package (0x04) { Zero, Zero, Zero, Zero }
                            Local5 [0x03] = 0x10 + Local4
                        }
                        ElseIf (Local4 == Zero)
                        {
                            Local5 = Package (0x04) { Zero, Zero, LNKA, Zero }
                        }
                        ElseIf (Local4 == One)
                        {
                            Local5 = Package (0x04) { Zero, Zero, LNKB, Zero }
                        }
                        ElseIf (Local4 == 0x02)
                        {
                            Local5 = Package (0x04) { Zero, Zero, LNKC, Zero }
                        }
                        Else
                        {
                            Local5 = Package (0x04) { Zero, Zero, LNKD, Zero }
                        }
                        Local5 [Zero] = (Local2 << 0x10) | 0xFFFF
                        Local5 [One] = Local3
                        Local0 [Local1] = Local5
                        Local1++
                        Local3++
                    }
                    Local2++
                }
                Return (Local0)
            }

            /* PIIX3 PCI-to-ISA bridge, pc::kIsaBridgeSlot function 0. */
            Device (ISA)
            {
                Name (_ADR, 0x00010000)

                Device (PIC)
                {
                    Name (_HID, EisaId ("PNP0000"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0020, 0x0020, 0x01, 0x02)
                        IO (Decode16, 0x00A0, 0x00A0, 0x01, 0x02)
                        IRQNoFlags () {2}
                    })
                }

                Device (TMR)
                {
                    Name (_HID, EisaId ("PNP0100"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0040, 0x0040, 0x01, 0x04)
                        IRQNoFlags () {0}
                    })
                }

                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
                        IRQNoFlags () {8}
                    })
                }

                /* The 8042's keyboard port; its mouse port is empty. */
                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
                        IRQNoFlags () {1}
                    })
                }

                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, One)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
                        IRQNoFlags () {4}
                    })
                }

                /*
                 * Ports of the platform that no other device claims: the
                 * ACPI PM block (pc::kPmBase, pc::kPmLength), GPE0
                 * (pc::kGpe0Base, pc::kGpe0Length), the ELCR, port 0x61
                 * (PIT gate/speaker), port 0x92, the debug-exit port and
                 * the fw_cfg selector/data pair.
                 */
                Device (MBRS)
                {
                    Name (_HID, EisaId ("PNP0C02"))
                    Name (_UID, One)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0600, 0x0600, 0x01, 0x10)
                        IO (Decode16, 0x0620, 0x0620, 0x01, 0x04)
                        IO (Decode16, 0x04D0, 0x04D0, 0x01, 0x02)
                        IO (Decode16, 0x0061, 0x0061, 0x01, 0x01)
                        IO (Decode16, 0x0092, 0x0092, 0x01, 0x01)
                        IO (Decode16, 0x00F4, 0x00F4, 0x01, 0x04)
                        IO (Decode16, 0x0510, 0x0510, 0x01, 0x02)
                    })
                }
            }
        }

        /*
         * PCI interrupt links PIRQA-PIRQD for PIC mode (ACPI 6.2.13). The
         * VMM wires each link to a fixed 8259 input, pc::kPciLinkDefaultIrq
         * = 10, 10, 11, 11: _PRS offers only that IRQ, _SRS accepts it and
         * changes nothing, _DIS cannot disconnect the wire.
         */
        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, One)
            Name (_PRS, ResourceTemplate () { IRQ (Level, ActiveLow, Shared) {10} })
            Method (_STA, 0, NotSerialized) { Return (0x0B) }
            Method (_CRS, 0, NotSerialized) { Return (_PRS) }
            Method (_SRS, 1, NotSerialized) { }
            Method (_DIS, 0, NotSerialized) { }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x02)
            Name (_PRS, ResourceTemplate () { IRQ (Level, ActiveLow, Shared) {10} })
            Method (_STA, 0, NotSerialized) { Return (0x0B) }
            Method (_CRS, 0, NotSerialized) { Return (_PRS) }
            Method (_SRS, 1, NotSerialized) { }
            Method (_DIS, 0, NotSerialized) { }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x03)
            Name (_PRS, ResourceTemplate () { IRQ (Level, ActiveLow, Shared) {11} })
            Method (_STA, 0, NotSerialized) { Return (0x0B) }
            Method (_CRS, 0, NotSerialized) { Return (_PRS) }
            Method (_SRS, 1, NotSerialized) { }
            Method (_DIS, 0, NotSerialized) { }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x04)
            Name (_PRS, ResourceTemplate () { IRQ (Level, ActiveLow, Shared) {11} })
            Method (_STA, 0, NotSerialized) { Return (0x0B) }
            Method (_CRS, 0, NotSerialized) { Return (_PRS) }
            Method (_SRS, 1, NotSerialized) { }
            Method (_DIS, 0, NotSerialized) { }
        }

        /* IA-PC HPET 1.0a: the event timer block at pc::kHpetBase. */
        Device (HPET)
        {
            Name (_HID, EisaId ("PNP0103"))
            Name (_UID, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadOnly, 0xFED00000, 0x00000400)
            })
        }
    }
}
