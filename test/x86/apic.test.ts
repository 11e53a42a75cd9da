/**
 * The local APIC alone, against a fake clock: register semantics, priorities, EOI order,
 * IPIs, the three timer modes, disabling, errors, and a property test of the priority rules
 * against a small reference model (seeded by test/support/fast-check-seed.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  APIC_APR, APIC_BASE_BSP, APIC_BASE_EN, APIC_BASE_EXTD, APIC_DEFAULT_BASE, APIC_DFR, APIC_EOI, APIC_ESR,
  APIC_ICR_HI, APIC_ICR_LO, APIC_ID, APIC_IRR, APIC_ISR, APIC_LDR, APIC_LVT_CMCI, APIC_LVT_ERROR,
  APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_PERF, APIC_LVT_THERMAL, APIC_LVT_TIMER, APIC_PPR, APIC_RRD, APIC_SVR,
  APIC_TIMER_CURRENT, APIC_TIMER_DIVIDE, APIC_TIMER_INITIAL, APIC_TMR, APIC_TPR, APIC_VER, APIC_VERSION_REGISTER,
  DM_EXTINT, DM_FIXED, DM_INIT, DM_LOWEST, DM_NMI, ESR_ILLEGAL_REGISTER, ESR_RECEIVE_ILLEGAL_VECTOR,
  ESR_SEND_ILLEGAL_VECTOR, LVT_LEVEL, LVT_MASKED, LVT_REMOTE_IRR, LocalApic, SHORTHAND_ALL, SHORTHAND_ALL_BUT_SELF,
  SHORTHAND_NONE, SHORTHAND_SELF, SVR_APIC_ENABLE, TIMER_PERIODIC, TIMER_TSC_DEADLINE, type ApicOptions, type Ipi,
} from '../../x86/apic.js';

interface Rig {
  apic: LocalApic;
  clock: { t: number };
  ipis: Ipi[];
  levelEois: number[];
}

function rig(options: Partial<ApicOptions> = {}, withIpi = true): Rig {
  const clock = { t: 0 };
  const ipis: Ipi[] = [];
  const levelEois: number[] = [];
  const apic = new LocalApic({
    now: () => clock.t,
    ...(withIpi ? { sendIpi: (i: Ipi) => void ipis.push(i) } : {}),
    onLevelEoi: (v) => void levelEois.push(v),
    ...options,
  });
  return { apic, clock, ipis, levelEois };
}

/** A rig with the APIC software-enabled (spurious vector FFH). */
function enabled(options: Partial<ApicOptions> = {}, withIpi = true): Rig {
  const r = rig(options, withIpi);
  r.apic.write(APIC_SVR, SVR_APIC_ENABLE | 0xff);
  return r;
}

function bit(apic: LocalApic, bank: number, v: number): boolean {
  return ((apic.read(bank + (v >>> 5) * 16) >>> (v & 31)) & 1) === 1;
}

function latchEsr(apic: LocalApic): number {
  apic.write(APIC_ESR, 0);
  return apic.read(APIC_ESR);
}

/** save → restore into a fresh APIC → save again must give the same record. */
function roundTrip(r: Rig): void {
  const copy = new LocalApic({ now: () => r.clock.t });
  copy.restore(r.apic.save());
  expect(copy.save()).toEqual(r.apic.save());
}

describe('LocalApic: reset state and registers', () => {
  it('comes out of reset as SDM §10.4.7.1 says', () => {
    const { apic } = rig({ id: 3 });
    expect(apic.readBaseMsr()).toEqual([(APIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_EN) >>> 0, 0]);
    expect(apic.enabled).toBe(true);
    expect(apic.softwareEnabled).toBe(false);
    expect(apic.read(APIC_ID)).toBe(0x03000000);
    expect(apic.read(APIC_VER)).toBe(APIC_VERSION_REGISTER);
    expect(APIC_VERSION_REGISTER).toBe(0x00060014);
    expect(apic.read(APIC_SVR)).toBe(0xff);
    expect(apic.read(APIC_DFR)).toBe(0xffffffff);
    for (const lvt of [APIC_LVT_CMCI, APIC_LVT_TIMER, APIC_LVT_THERMAL, APIC_LVT_PERF, APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR]) {
      expect(apic.read(lvt)).toBe(LVT_MASKED);
    }
    for (const reg of [APIC_TPR, APIC_PPR, APIC_LDR, APIC_ICR_LO, APIC_ICR_HI, APIC_TIMER_INITIAL, APIC_TIMER_CURRENT, APIC_TIMER_DIVIDE, APIC_ESR]) {
      expect(apic.read(reg)).toBe(0);
    }
    expect(new LocalApic({ now: () => 0, bsp: false }).readBaseMsr()[0]).toBe((APIC_DEFAULT_BASE | APIC_BASE_EN) >>> 0);
  });

  it('keeps only the implemented bits of writable registers', () => {
    const { apic } = enabled();
    apic.write(APIC_TPR, 0xffffff5a);
    expect(apic.read(APIC_TPR)).toBe(0x5a);
    apic.write(APIC_ID, 0x07123456);
    expect(apic.read(APIC_ID)).toBe(0x07000000);
    expect(apic.apicId).toBe(7);
    apic.write(APIC_LDR, 0x81ffffff);
    expect(apic.read(APIC_LDR)).toBe(0x81000000);
    apic.write(APIC_DFR, 0);
    expect(apic.read(APIC_DFR)).toBe(0x0fffffff);
    apic.write(APIC_SVR, 0xffffffff);
    expect(apic.read(APIC_SVR)).toBe(0x3ff);
    apic.write(APIC_ICR_HI, 0x12345678);
    expect(apic.read(APIC_ICR_HI)).toBe(0x12000000);
    apic.write(APIC_TIMER_DIVIDE, 0xffffffff);
    expect(apic.read(APIC_TIMER_DIVIDE)).toBe(0xb);
    apic.write(APIC_LVT_TIMER, 0xffffffff);
    expect(apic.read(APIC_LVT_TIMER)).toBe(0x000700ff);
    apic.write(APIC_LVT_LINT0, 0xffffffff);
    expect(apic.read(APIC_LVT_LINT0)).toBe(0x0001a7ff); // remote IRR and delivery status are read-only
    apic.write(APIC_LVT_ERROR, 0xffffffff);
    expect(apic.read(APIC_LVT_ERROR)).toBe(0x000100ff);
    apic.write(APIC_LVT_CMCI, 0xffffffff);
    expect(apic.read(APIC_LVT_CMCI)).toBe(0x000107ff);
  });

  it('ignores writes to read-only registers and reads write-only EOI and RRD as 0', () => {
    const { apic } = enabled();
    apic.accept(0x40);
    for (const reg of [APIC_VER, APIC_PPR, APIC_APR, APIC_RRD, APIC_IRR + 0x20, APIC_ISR, APIC_TMR, APIC_TIMER_CURRENT]) {
      apic.write(reg, 0xffffffff);
    }
    expect(apic.read(APIC_VER)).toBe(APIC_VERSION_REGISTER);
    expect(apic.read(APIC_PPR)).toBe(0);
    expect(apic.read(APIC_IRR + 0x20)).toBe(1);
    expect(apic.read(APIC_ISR)).toBe(0);
    expect(apic.read(APIC_EOI)).toBe(0);
    expect(apic.read(APIC_RRD)).toBe(0);
    expect(latchEsr(apic)).toBe(0);
  });

  it('reserved slots read 0 and record an illegal register address; bytes 4-15 of a slot are inert', () => {
    const { apic } = enabled();
    expect(apic.read(0x10)).toBe(0);
    expect(latchEsr(apic)).toBe(ESR_ILLEGAL_REGISTER);
    apic.write(0x3f0, 1);
    expect(latchEsr(apic)).toBe(ESR_ILLEGAL_REGISTER);
    apic.write(APIC_TPR + 4, 0x55);
    expect(apic.read(APIC_TPR + 4)).toBe(0);
    expect(apic.read(APIC_TPR)).toBe(0);
    expect(latchEsr(apic)).toBe(0);
    expect(() => apic.read(0x81)).toThrow(/offset/);
    expect(() => apic.write(0x1000, 0)).toThrow(/offset/);
  });

  it('ESR is write-then-read: a write latches the errors recorded since the previous write', () => {
    const { apic } = enabled();
    apic.accept(3);
    expect(apic.read(APIC_ESR)).toBe(0); // recorded, not yet latched
    apic.write(APIC_ESR, 0x1234); // the value written does not matter
    expect(apic.read(APIC_ESR)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
    expect(apic.read(APIC_ESR)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
    apic.write(APIC_ESR, 0);
    expect(apic.read(APIC_ESR)).toBe(0);
  });
});

describe('LocalApic: IA32_APIC_BASE', () => {
  it('refuses reserved bits and x2APIC enable (#GP) without changing anything', () => {
    const { apic } = rig({ physAddrBits: 36 });
    const before = apic.readBaseMsr();
    expect(apic.writeBaseMsr(APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD, 0)).toBe(false);
    expect(apic.writeBaseMsr(APIC_DEFAULT_BASE | APIC_BASE_EN | 1, 0)).toBe(false);
    expect(apic.writeBaseMsr(APIC_DEFAULT_BASE | APIC_BASE_EN | (1 << 9), 0)).toBe(false);
    expect(apic.writeBaseMsr(APIC_DEFAULT_BASE | APIC_BASE_EN, 0x10)).toBe(false); // bit 36
    expect(apic.readBaseMsr()).toEqual(before);
    expect(apic.writeBaseMsr(APIC_DEFAULT_BASE | APIC_BASE_EN, 0xf)).toBe(true); // bit 35
    expect(apic.baseAddress).toBe(0xf_fee00000);
    expect(apic.readBaseMsr()).toEqual([(APIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_EN) >>> 0, 0xf]);
  });

  it('relocates the page and treats BSP as read-only', () => {
    const { apic } = rig();
    expect(apic.writeBaseMsr(0xfec01000 | APIC_BASE_EN, 0)).toBe(true);
    expect(apic.baseAddress).toBe(0xfec01000);
    expect(apic.readBaseMsr()).toEqual([(0xfec01000 | APIC_BASE_BSP | APIC_BASE_EN) >>> 0, 0]);
  });

  it('global disable returns the registers to their reset state and takes the page away', () => {
    const r = enabled({ id: 2 });
    const { apic } = r;
    apic.write(APIC_ID, 0x09000000);
    apic.write(APIC_TPR, 0x20);
    apic.write(APIC_LVT_TIMER, 0x30);
    apic.write(APIC_TIMER_INITIAL, 100);
    apic.accept(0x50);
    expect(apic.writeBaseMsr(APIC_DEFAULT_BASE, 0)).toBe(true);
    expect(apic.enabled).toBe(false);
    expect(apic.read(APIC_TPR)).toBe(0xffffffff); // not the APIC's page any more
    apic.write(APIC_SVR, 0x1ff);
    expect(apic.pending()).toBe(-1);
    expect(apic.accept(0x60)).toBe(false);
    expect(apic.acknowledge()).toBe(-1);
    expect(apic.nextEvent()).toBe(Infinity);
    // Without its APIC, LINT0 is INTR and LINT1 is NMI.
    expect(apic.signalLocal('lint0')).toBe(DM_EXTINT);
    expect(apic.signalLocal('lint1')).toBe(DM_NMI);
    expect(apic.signalLocal('thermal')).toBe(-1);
    expect(apic.writeBaseMsr(APIC_DEFAULT_BASE | APIC_BASE_EN, 0)).toBe(true);
    expect(apic.read(APIC_ID)).toBe(0x02000000);
    expect(apic.read(APIC_TPR)).toBe(0);
    expect(apic.read(APIC_SVR)).toBe(0xff);
    expect(apic.read(APIC_LVT_TIMER)).toBe(LVT_MASKED);
    expect(apic.read(APIC_TIMER_INITIAL)).toBe(0);
    expect(apic.read(APIC_IRR + 0x20)).toBe(0);
    roundTrip(r);
  });

  it('INIT keeps the APIC ID and the base MSR, and resets the rest', () => {
    const { apic } = enabled({ id: 1 });
    apic.write(APIC_ID, 0x05000000);
    apic.writeBaseMsr(0xfed00000 | APIC_BASE_EN, 0);
    apic.accept(0x40);
    apic.init();
    expect(apic.read(APIC_ID)).toBe(0x05000000);
    expect(apic.baseAddress).toBe(0xfed00000);
    expect(apic.read(APIC_SVR)).toBe(0xff);
    expect(apic.pending()).toBe(-1);
    apic.reset();
    expect(apic.read(APIC_ID)).toBe(0x01000000);
    expect(apic.baseAddress).toBe(APIC_DEFAULT_BASE);
  });
});

describe('LocalApic: priorities, acknowledge, EOI', () => {
  it('delivers the highest vector whose class is above the processor priority', () => {
    const { apic } = enabled();
    apic.accept(0x31);
    apic.accept(0x45);
    expect(apic.pending()).toBe(0x45);
    expect(apic.acknowledge()).toBe(0x45);
    expect(apic.read(APIC_PPR)).toBe(0x40);
    expect(bit(apic, APIC_ISR, 0x45)).toBe(true);
    expect(bit(apic, APIC_IRR, 0x45)).toBe(false);
    expect(apic.pending()).toBe(-1); // 0x31 is below class 4
    apic.accept(0x4f);
    expect(apic.pending()).toBe(-1); // same class as the one in service
    apic.accept(0x52);
    expect(apic.pending()).toBe(0x52);
    apic.write(APIC_TPR, 0x65);
    expect(apic.read(APIC_PPR)).toBe(0x65);
    expect(apic.pending()).toBe(-1);
    apic.write(APIC_TPR, 0x50);
    expect(apic.pending()).toBe(-1); // class 5 is not above TPR class 5
    apic.write(APIC_TPR, 0);
    expect(apic.acknowledge()).toBe(0x52);
    expect(apic.read(APIC_PPR)).toBe(0x50);
  });

  it('EOI retires the highest in-service vector first (nested interrupts)', () => {
    const { apic } = enabled();
    apic.accept(0x30);
    expect(apic.acknowledge()).toBe(0x30);
    apic.accept(0x80);
    expect(apic.acknowledge()).toBe(0x80);
    apic.accept(0xe1);
    expect(apic.acknowledge()).toBe(0xe1);
    apic.accept(0x81); // class 8 waits for the in-service 0x80
    expect(apic.read(APIC_PPR)).toBe(0xe0);
    apic.write(APIC_EOI, 0);
    expect(bit(apic, APIC_ISR, 0xe1)).toBe(false);
    expect(apic.read(APIC_PPR)).toBe(0x80);
    expect(apic.pending()).toBe(-1);
    apic.write(APIC_EOI, 0);
    expect(bit(apic, APIC_ISR, 0x80)).toBe(false);
    expect(apic.read(APIC_PPR)).toBe(0x30);
    expect(apic.pending()).toBe(0x81);
    apic.write(APIC_EOI, 0);
    expect(apic.read(APIC_ISR + 0x10)).toBe(0);
    apic.write(APIC_EOI, 0); // nothing in service: no effect
    expect(apic.read(APIC_PPR)).toBe(0);
  });

  it('computes APR from TPR, IRR and ISR', () => {
    const { apic } = enabled();
    apic.write(APIC_TPR, 0x35);
    expect(apic.read(APIC_APR)).toBe(0x35);
    apic.accept(0x61);
    expect(apic.read(APIC_APR)).toBe(0x60);
  });

  it('hands out the spurious vector when the interrupt went away before INTA, leaving ISR alone', () => {
    const { apic } = enabled();
    apic.write(APIC_SVR, SVR_APIC_ENABLE | 0x3f);
    apic.accept(0x70);
    expect(apic.pending()).toBe(0x70);
    apic.write(APIC_TPR, 0x80);
    expect(apic.acknowledge()).toBe(0x3f);
    expect(apic.read(APIC_ISR + 0x30)).toBe(0);
    expect(bit(apic, APIC_IRR, 0x70)).toBe(true);
  });

  it('sets TMR for level-triggered interrupts and reports their EOI', () => {
    const { apic, levelEois } = enabled();
    apic.accept(0x40, true);
    apic.accept(0x50);
    expect(bit(apic, APIC_TMR, 0x40)).toBe(true);
    expect(bit(apic, APIC_TMR, 0x50)).toBe(false);
    apic.acknowledge();
    apic.write(APIC_EOI, 0);
    expect(levelEois).toEqual([]);
    apic.acknowledge();
    apic.write(APIC_EOI, 0);
    expect(levelEois).toEqual([0x40]);
  });

  it('collapses repeated requests for one vector into one IRR bit, and can hold one more while in service', () => {
    const { apic } = enabled();
    apic.accept(0x40);
    apic.accept(0x40);
    expect(apic.acknowledge()).toBe(0x40);
    apic.accept(0x40);
    apic.accept(0x40);
    expect(bit(apic, APIC_IRR, 0x40)).toBe(true);
    apic.write(APIC_EOI, 0);
    expect(apic.acknowledge()).toBe(0x40);
    apic.write(APIC_EOI, 0);
    expect(apic.pending()).toBe(-1);
  });
});

describe('LocalApic: software disable (SVR bit 8)', () => {
  it('forces LVT masks, refuses fixed interrupts and keeps those already requested', () => {
    const { apic } = enabled();
    apic.write(APIC_LVT_LINT0, 0x30);
    apic.accept(0x90);
    apic.write(APIC_SVR, 0xff);
    expect(apic.softwareEnabled).toBe(false);
    expect(apic.read(APIC_LVT_LINT0)).toBe(0x30 | LVT_MASKED);
    apic.write(APIC_LVT_LINT0, 0x31);
    expect(apic.read(APIC_LVT_LINT0)).toBe(0x31 | LVT_MASKED);
    expect(apic.accept(0x91)).toBe(false);
    expect(apic.signalLocal('lint0')).toBe(-1);
    apic.write(APIC_ICR_LO, (SHORTHAND_SELF << 18) | 0x92);
    expect(bit(apic, APIC_IRR, 0x92)).toBe(false);
    expect(apic.pending()).toBe(0x90); // held, as §10.4.7.2 says
    // Enabling again leaves the masks set until software clears them.
    apic.write(APIC_SVR, SVR_APIC_ENABLE | 0xff);
    expect(apic.read(APIC_LVT_LINT0)).toBe(0x31 | LVT_MASKED);
    apic.write(APIC_LVT_LINT0, 0x31);
    expect(apic.read(APIC_LVT_LINT0)).toBe(0x31);
  });
});

describe('LocalApic: illegal vectors and the error LVT', () => {
  it('a received vector 0-15 sets ESR bit 6 and raises the error interrupt', () => {
    const { apic } = enabled();
    apic.write(APIC_LVT_ERROR, 0xee);
    expect(apic.accept(7)).toBe(false);
    expect(bit(apic, APIC_IRR, 7)).toBe(false);
    expect(apic.pending()).toBe(0xee);
    expect(latchEsr(apic)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it('a masked error entry records the error without an interrupt', () => {
    const { apic } = enabled();
    apic.write(APIC_LVT_ERROR, 0xee | LVT_MASKED);
    apic.accept(0);
    expect(apic.pending()).toBe(-1);
    expect(latchEsr(apic)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it('an illegal vector in the error entry itself is recorded once, without looping', () => {
    const { apic } = enabled();
    apic.write(APIC_LVT_ERROR, 0x05);
    apic.read(0x40);
    expect(latchEsr(apic)).toBe(ESR_ILLEGAL_REGISTER | ESR_RECEIVE_ILLEGAL_VECTOR);
    expect(apic.pending()).toBe(-1);
  });

  it('sending a vector 0-15 sets ESR bit 5 (and bit 6 when sent to itself), and sends nothing', () => {
    const { apic, ipis } = enabled();
    apic.write(APIC_LVT_ERROR, 0xe0);
    apic.write(APIC_ICR_HI, 0x05000000);
    apic.write(APIC_ICR_LO, 0x0f);
    expect(ipis).toEqual([]);
    expect(latchEsr(apic)).toBe(ESR_SEND_ILLEGAL_VECTOR);
    expect(apic.acknowledge()).toBe(0xe0);
    apic.write(APIC_ICR_LO, (SHORTHAND_SELF << 18) | 0x01);
    expect(latchEsr(apic)).toBe(ESR_SEND_ILLEGAL_VECTOR | ESR_RECEIVE_ILLEGAL_VECTOR);
    // NMI ignores the vector field: no error.
    apic.write(APIC_ICR_LO, (DM_NMI << 8) | 0x01);
    expect(latchEsr(apic)).toBe(0);
    expect(ipis).toHaveLength(1);
  });

  it('a timer with an illegal vector reports it when it fires', () => {
    const { apic, clock } = enabled();
    apic.write(APIC_LVT_TIMER, 0x02);
    apic.write(APIC_TIMER_DIVIDE, 0xb);
    apic.write(APIC_TIMER_INITIAL, 4);
    clock.t = 4;
    expect(apic.pending()).toBe(-1);
    expect(latchEsr(apic)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });
});

describe('LocalApic: IPIs', () => {
  const icr = (vector: number, mode: number, shorthand: number, logical = false) =>
    vector | (mode << 8) | (logical ? 1 << 11 : 0) | (1 << 14) | (shorthand << 18);

  it('takes self-IPIs itself: shorthand self, or its own ID as physical destination', () => {
    const { apic, ipis } = enabled({ id: 4 });
    apic.write(APIC_ICR_LO, icr(0x41, DM_FIXED, SHORTHAND_SELF));
    expect(apic.pending()).toBe(0x41);
    apic.write(APIC_ICR_HI, 4 << 24);
    apic.write(APIC_ICR_LO, icr(0x52, DM_FIXED, SHORTHAND_NONE));
    expect(apic.pending()).toBe(0x52);
    expect(ipis).toEqual([]);
    expect(apic.read(APIC_ICR_LO) & (1 << 12)).toBe(0); // delivery status: idle
    expect(apic.read(APIC_ICR_LO)).toBe(icr(0x52, DM_FIXED, SHORTHAND_NONE));
  });

  it('hands other destinations to sendIpi, saying whether it already took the interrupt itself', () => {
    const { apic, ipis } = enabled({ id: 4 });
    apic.write(APIC_ICR_HI, 7 << 24);
    apic.write(APIC_ICR_LO, icr(0x60, DM_FIXED, SHORTHAND_NONE));
    apic.write(APIC_ICR_LO, icr(0x61, DM_FIXED, SHORTHAND_ALL));
    apic.write(APIC_ICR_LO, icr(0x62, DM_FIXED, SHORTHAND_ALL_BUT_SELF));
    apic.write(APIC_ICR_HI, 4 << 24);
    apic.write(APIC_ICR_LO, icr(0, DM_NMI, SHORTHAND_NONE));
    apic.write(APIC_ICR_LO, icr(0, DM_INIT, SHORTHAND_ALL_BUT_SELF));
    apic.write(APIC_ICR_LO, icr(0x9a, 6, SHORTHAND_ALL_BUT_SELF));
    const summary = ipis.map((i) => [i.destination, i.vector, i.deliveryMode, i.shorthand, i.selfHandled]);
    expect(summary).toEqual([
      [7, 0x60, DM_FIXED, SHORTHAND_NONE, false],
      [7, 0x61, DM_FIXED, SHORTHAND_ALL, true],
      [7, 0x62, DM_FIXED, SHORTHAND_ALL_BUT_SELF, false],
      [4, 0, DM_NMI, SHORTHAND_NONE, false], // the owner delivers NMIs, even to the sender
      [4, 0, DM_INIT, SHORTHAND_ALL_BUT_SELF, false],
      [4, 0x9a, 6, SHORTHAND_ALL_BUT_SELF, false],
    ]);
    expect(ipis.every((i) => i.source === 4 && !i.logical && i.level && !i.triggerLevel)).toBe(true);
    expect(apic.pending()).toBe(0x61);
    expect(bit(apic, APIC_IRR, 0x62)).toBe(false);
  });

  it('matches logical destinations in the flat and cluster models', () => {
    const { apic, ipis } = enabled({ id: 1 });
    apic.write(APIC_LDR, 0x02000000);
    expect(apic.matchesDestination(0x03, true)).toBe(true);
    expect(apic.matchesDestination(0x04, true)).toBe(false);
    expect(apic.matchesDestination(0xff, true)).toBe(true);
    expect(apic.matchesDestination(0x01, false)).toBe(true);
    expect(apic.matchesDestination(0xff, false)).toBe(true);
    expect(apic.matchesDestination(0x02, false)).toBe(false);
    apic.write(APIC_DFR, 0x0fffffff); // cluster model
    apic.write(APIC_LDR, 0x32000000); // cluster 3, member bit 1
    expect(apic.matchesDestination(0x32, true)).toBe(true);
    expect(apic.matchesDestination(0x36, true)).toBe(true);
    expect(apic.matchesDestination(0x22, true)).toBe(false);
    expect(apic.matchesDestination(0x31, true)).toBe(false);
    apic.write(APIC_ICR_HI, 0x36 << 24);
    apic.write(APIC_ICR_LO, icr(0x70, DM_FIXED, SHORTHAND_NONE, true));
    expect(apic.pending()).toBe(0x70);
    expect(ipis.map((i) => [i.logical, i.selfHandled])).toEqual([[true, true]]);
  });

  it('alone (no sendIpi), takes lowest-priority IPIs that match it and drops the rest', () => {
    const { apic } = enabled({ id: 0 }, false);
    apic.write(APIC_ICR_HI, 0);
    apic.write(APIC_ICR_LO, icr(0x80, DM_LOWEST, SHORTHAND_NONE));
    apic.write(APIC_ICR_LO, icr(0x90, DM_NMI, SHORTHAND_NONE));
    apic.write(APIC_ICR_HI, 3 << 24);
    apic.write(APIC_ICR_LO, icr(0xa0, DM_FIXED, SHORTHAND_NONE));
    expect(apic.acknowledge()).toBe(0x80);
    apic.write(APIC_EOI, 0);
    expect(apic.pending()).toBe(-1);
  });
});

describe('LocalApic: local sources', () => {
  it('routes LINT pins by delivery mode, with remote IRR for level-triggered fixed ones', () => {
    const { apic, levelEois } = enabled();
    apic.write(APIC_LVT_LINT0, DM_EXTINT << 8);
    expect(apic.signalLocal('lint0')).toBe(DM_EXTINT);
    apic.write(APIC_LVT_LINT1, DM_NMI << 8);
    expect(apic.signalLocal('lint1')).toBe(DM_NMI);
    apic.write(APIC_LVT_LINT0, LVT_LEVEL | 0x55);
    expect(apic.signalLocal('lint0')).toBe(DM_FIXED);
    expect(apic.read(APIC_LVT_LINT0)).toBe(LVT_LEVEL | LVT_REMOTE_IRR | 0x55);
    expect(bit(apic, APIC_TMR, 0x55)).toBe(true);
    expect(apic.signalLocal('lint0')).toBe(-1); // still awaiting EOI
    expect(apic.acknowledge()).toBe(0x55);
    apic.write(APIC_EOI, 0);
    expect(apic.read(APIC_LVT_LINT0)).toBe(LVT_LEVEL | 0x55);
    expect(levelEois).toEqual([0x55]);
    expect(apic.signalLocal('lint0')).toBe(DM_FIXED);
    apic.write(APIC_LVT_THERMAL, LVT_MASKED | 0x66);
    expect(apic.signalLocal('thermal')).toBe(-1);
    apic.write(APIC_LVT_CMCI, DM_INIT << 8);
    expect(apic.signalLocal('cmci')).toBe(DM_INIT);
  });

  it('masks the performance-counter entry when it fires', () => {
    const { apic } = enabled();
    apic.write(APIC_LVT_PERF, 0x77);
    expect(apic.signalLocal('perf')).toBe(DM_FIXED);
    expect(apic.read(APIC_LVT_PERF)).toBe(0x77 | LVT_MASKED);
    expect(apic.signalLocal('perf')).toBe(-1);
    expect(apic.pending()).toBe(0x77);
  });
});

describe('LocalApic: timer', () => {
  const ONE_SHOT = 0;

  it('one-shot fires once at initial count × divisor × tscPerBusTick, counting down on reads', () => {
    const r = enabled({ tscPerBusTick: 2 });
    const { apic, clock } = r;
    clock.t = 1000;
    apic.write(APIC_LVT_TIMER, ONE_SHOT | 0xd0);
    apic.write(APIC_TIMER_DIVIDE, 0b0001); // divide by 4: 8 TSC ticks per count
    apic.write(APIC_TIMER_INITIAL, 10);
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(10);
    expect(apic.nextEvent()).toBe(1080);
    clock.t = 1008;
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(9);
    clock.t = 1079;
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(1);
    expect(apic.pending()).toBe(-1);
    roundTrip(r);
    clock.t = 1080;
    expect(apic.pending()).toBe(0xd0);
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(0);
    expect(apic.read(APIC_TIMER_INITIAL)).toBe(10);
    expect(apic.nextEvent()).toBe(Infinity);
    expect(apic.acknowledge()).toBe(0xd0);
    apic.write(APIC_EOI, 0);
    clock.t = 5000;
    expect(apic.pending()).toBe(-1);
    // Writing the initial count again restarts it.
    apic.write(APIC_TIMER_INITIAL, 1);
    expect(apic.nextEvent()).toBe(5008);
    apic.write(APIC_TIMER_INITIAL, 0); // and 0 stops it
    expect(apic.nextEvent()).toBe(Infinity);
    clock.t = 6000;
    expect(apic.pending()).toBe(-1);
  });

  it('periodic reloads, and a late update requests the vector only once', () => {
    const r = enabled();
    const { apic, clock } = r;
    apic.write(APIC_LVT_TIMER, (TIMER_PERIODIC << 17) | 0xd1);
    apic.write(APIC_TIMER_DIVIDE, 0b1011); // divide by 1
    apic.write(APIC_TIMER_INITIAL, 5);
    clock.t = 5;
    expect(apic.acknowledge()).toBe(0xd1);
    apic.write(APIC_EOI, 0);
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(5);
    clock.t = 7;
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(3);
    expect(apic.nextEvent()).toBe(10);
    clock.t = 10;
    expect(apic.acknowledge()).toBe(0xd1);
    apic.write(APIC_EOI, 0);
    clock.t = 103; // 18 more periods elapsed
    expect(apic.acknowledge()).toBe(0xd1);
    expect(apic.pending()).toBe(-1);
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(2);
    expect(apic.nextEvent()).toBe(105);
    roundTrip(r);
    // Periodic → one-shot mid-period: the current count runs out and stops.
    apic.write(APIC_EOI, 0);
    apic.write(APIC_LVT_TIMER, 0xd1);
    clock.t = 105;
    expect(apic.acknowledge()).toBe(0xd1);
    apic.write(APIC_EOI, 0);
    clock.t = 200;
    expect(apic.pending()).toBe(-1);
  });

  it('divides by 1 to 128 as the divide configuration says', () => {
    const expected: [number, number][] = [[0b0000, 2], [0b0001, 4], [0b0010, 8], [0b0011, 16], [0b1000, 32], [0b1001, 64], [0b1010, 128], [0b1011, 1]];
    for (const [config, divisor] of expected) {
      const { apic } = enabled({ tscPerBusTick: 3 });
      apic.write(APIC_LVT_TIMER, 0xd2);
      apic.write(APIC_TIMER_DIVIDE, config);
      apic.write(APIC_TIMER_INITIAL, 7);
      expect(apic.nextEvent(), `config ${config}`).toBe(7 * divisor * 3);
    }
  });

  it('a divide change while counting keeps the count reached', () => {
    const { apic, clock } = enabled();
    apic.write(APIC_LVT_TIMER, 0xd3);
    apic.write(APIC_TIMER_DIVIDE, 0b0000); // 2 ticks per count
    apic.write(APIC_TIMER_INITIAL, 10);
    clock.t = 8;
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(6);
    apic.write(APIC_TIMER_DIVIDE, 0b0001); // 4 ticks per count
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(6);
    expect(apic.nextEvent()).toBe(8 + 6 * 4);
  });

  it('a masked timer counts and expires but requests nothing', () => {
    const { apic, clock } = enabled();
    apic.write(APIC_LVT_TIMER, LVT_MASKED | (TIMER_PERIODIC << 17) | 0xd4);
    apic.write(APIC_TIMER_DIVIDE, 0b1011);
    apic.write(APIC_TIMER_INITIAL, 10);
    expect(apic.nextEvent()).toBe(Infinity);
    clock.t = 25;
    expect(apic.pending()).toBe(-1);
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(5);
    expect(apic.read(APIC_IRR + 0x60)).toBe(0);
    // Unmasking later does not bring back the lost expiries.
    apic.write(APIC_LVT_TIMER, (TIMER_PERIODIC << 17) | 0xd4);
    expect(apic.pending()).toBe(-1);
    expect(apic.nextEvent()).toBe(30);
  });

  it('a software-disabled APIC lets its timer expire silently', () => {
    const { apic, clock } = enabled();
    apic.write(APIC_LVT_TIMER, 0xd5);
    apic.write(APIC_TIMER_INITIAL, 1);
    apic.write(APIC_SVR, 0xff);
    expect(apic.nextEvent()).toBe(Infinity);
    clock.t = 100;
    expect(apic.pending()).toBe(-1);
  });

  it('TSC-deadline: arms, fires once at the deadline, disarms; 0 disarms; a past deadline fires at once', () => {
    const r = enabled();
    const { apic, clock } = r;
    expect(apic.readTscDeadline()).toBe(0);
    apic.writeTscDeadline(50); // not in TSC-deadline mode: ignored
    expect(apic.readTscDeadline()).toBe(0);
    apic.write(APIC_LVT_TIMER, (TIMER_TSC_DEADLINE << 17) | 0xd6);
    apic.write(APIC_TIMER_INITIAL, 5); // ignored in this mode
    expect(apic.read(APIC_TIMER_INITIAL)).toBe(0);
    expect(apic.read(APIC_TIMER_CURRENT)).toBe(0);
    clock.t = 10;
    apic.writeTscDeadline(100);
    expect(apic.readTscDeadline()).toBe(100);
    expect(apic.nextEvent()).toBe(100);
    roundTrip(r);
    clock.t = 99;
    expect(apic.pending()).toBe(-1);
    clock.t = 100;
    expect(apic.pending()).toBe(0xd6);
    expect(apic.readTscDeadline()).toBe(0);
    expect(apic.nextEvent()).toBe(Infinity);
    expect(apic.acknowledge()).toBe(0xd6);
    apic.write(APIC_EOI, 0);
    // Disarm.
    apic.writeTscDeadline(200);
    apic.writeTscDeadline(0);
    clock.t = 300;
    expect(apic.pending()).toBe(-1);
    // A deadline already past fires at once.
    apic.writeTscDeadline(150);
    expect(apic.pending()).toBe(0xd6);
    expect(apic.readTscDeadline()).toBe(0);
  });

  it('switching into or out of TSC-deadline mode disarms the timer', () => {
    const { apic, clock } = enabled();
    apic.write(APIC_LVT_TIMER, 0xd7);
    apic.write(APIC_TIMER_INITIAL, 100);
    apic.write(APIC_LVT_TIMER, (TIMER_TSC_DEADLINE << 17) | 0xd7);
    expect(apic.read(APIC_TIMER_INITIAL)).toBe(0);
    apic.writeTscDeadline(1000);
    apic.write(APIC_LVT_TIMER, 0xd7);
    expect(apic.readTscDeadline()).toBe(0);
    apic.write(APIC_LVT_TIMER, (TIMER_TSC_DEADLINE << 17) | 0xd7);
    expect(apic.readTscDeadline()).toBe(0);
    clock.t = 5000;
    expect(apic.pending()).toBe(-1);
  });

  it('a masked TSC deadline still disarms when it passes', () => {
    const { apic, clock } = enabled();
    apic.write(APIC_LVT_TIMER, LVT_MASKED | (TIMER_TSC_DEADLINE << 17) | 0xd8);
    apic.writeTscDeadline(10);
    expect(apic.nextEvent()).toBe(Infinity);
    clock.t = 10;
    expect(apic.pending()).toBe(-1);
    expect(apic.readTscDeadline()).toBe(0);
  });
});

describe('LocalApic: save/restore', () => {
  it('rejects a foreign record', () => {
    const { apic } = rig();
    const bad = { ...apic.save(), version: 2 } as unknown as ReturnType<LocalApic['save']>;
    expect(() => apic.restore(bad)).toThrow(/unknown record/);
  });

  it('a restored APIC carries on as the original', () => {
    const r = enabled({ id: 9 });
    const { apic, clock } = r;
    apic.write(APIC_TPR, 0x20);
    apic.accept(0x44, true);
    apic.accept(0x81);
    apic.acknowledge();
    apic.write(APIC_LVT_TIMER, (TIMER_PERIODIC << 17) | 0xc0);
    apic.write(APIC_TIMER_INITIAL, 20);
    apic.accept(2);
    const copy = new LocalApic({ now: () => clock.t });
    copy.restore(apic.save());
    clock.t = 30;
    const trace = (a: LocalApic) => [a.read(APIC_TIMER_CURRENT), a.acknowledge(), a.read(APIC_PPR), latchEsr(a), a.acknowledge()];
    expect(trace(copy)).toEqual(trace(apic));
    roundTrip(r);
  });
});

describe('LocalApic: priority rules against a reference model', () => {
  type Op =
    | { kind: 'accept'; vector: number; level: boolean }
    | { kind: 'ack' }
    | { kind: 'eoi' }
    | { kind: 'tpr'; value: number }
    | { kind: 'selfIpi'; vector: number };

  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('accept' as const), vector: fc.integer({ min: 0, max: 255 }), level: fc.boolean() }) },
    { weight: 3, arbitrary: fc.constant({ kind: 'ack' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'eoi' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('tpr' as const), value: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('selfIpi' as const), vector: fc.integer({ min: 16, max: 255 }) }) },
  );

  /** The SDM's rules (§10.8.3-§10.8.5) over plain sets. */
  class Model {
    irr = new Set<number>();
    isr = new Set<number>();
    tpr = 0;
    static max(s: Set<number>): number {
      return s.size === 0 ? -1 : Math.max(...s);
    }
    ppr(): number {
      const isrv = Math.max(Model.max(this.isr), 0);
      return this.tpr >> 4 >= isrv >> 4 ? this.tpr : isrv & 0xf0;
    }
    pending(): number {
      const v = Model.max(this.irr);
      return v >= 0 && v >> 4 > this.ppr() >> 4 ? v : -1;
    }
  }

  function bits(s: Set<number>): number[] {
    const words = [0, 0, 0, 0, 0, 0, 0, 0];
    for (const v of s) words[v >> 5] = (words[v >> 5]! | (1 << (v & 31))) >>> 0;
    return words;
  }

  it('pending, acknowledge, EOI, PPR and the IRR/ISR registers agree with the model', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { apic } = enabled();
        const m = new Model();
        for (const o of ops) {
          switch (o.kind) {
            case 'accept':
              apic.accept(o.vector, o.level);
              if (o.vector >= 16) m.irr.add(o.vector);
              break;
            case 'selfIpi':
              apic.write(APIC_ICR_LO, (SHORTHAND_SELF << 18) | o.vector);
              m.irr.add(o.vector);
              break;
            case 'ack': {
              const want = m.pending();
              expect(apic.acknowledge()).toBe(want < 0 ? 0xff : want);
              if (want >= 0) {
                m.irr.delete(want);
                m.isr.add(want);
              }
              break;
            }
            case 'eoi':
              apic.write(APIC_EOI, 0);
              m.isr.delete(Model.max(m.isr));
              break;
            case 'tpr':
              apic.write(APIC_TPR, o.value);
              m.tpr = o.value;
              break;
          }
          expect(apic.pending()).toBe(m.pending());
          expect(apic.read(APIC_PPR)).toBe(m.ppr());
          const irr = bits(m.irr);
          const isr = bits(m.isr);
          for (let w = 0; w < 8; w++) {
            expect(apic.read(APIC_IRR + w * 16)).toBe(irr[w]);
            expect(apic.read(APIC_ISR + w * 16)).toBe(isr[w]);
          }
        }
        const copy = new LocalApic({ now: () => 0 });
        copy.restore(apic.save());
        expect(copy.save()).toEqual(apic.save());
      }),
    );
  });
});
