// Writes tcf_vectors.json: TC strings made by the IAB's official encoder (@iabtechlabtcf/core,
// pinned in package.json), each with the fields the official decoder reads back, plus every
// truncation of each string and whether the official decoder refuses it.
//
//   cd tests/vectors/tcf && npm install && node make_vectors.mjs
//
// The Python suite reads only the committed JSON; it never needs Node.
import { writeFileSync } from 'node:fs';
import { GVL, PurposeRestriction, TCModel, TCString, Segment } from '@iabtechlabtcf/core';

const CREATED = new Date(Date.UTC(2026, 2, 14, 9, 26, 53, 500));
const UPDATED = new Date(Date.UTC(2026, 3, 1, 17, 5, 12, 300));

// A small synthetic vendor list: the encoder filters vendor signals against it.
function vendorList(policyVersion) {
  const vendors = {};
  for (const id of [1, 2, 3, 8, 9, 10, 25, 28, 91, 300, 755, 1021, 2000]) {
    const li = id % 3 === 0;
    vendors[id] = {
      id, name: `Vendor ${id}`, purposes: li ? [1, 3, 4] : [1, 2, 3, 4, 7, 9, 10],
      legIntPurposes: li ? [2, 7, 9, 10] : [], flexiblePurposes: [2, 7],
      specialPurposes: [1, 2], features: [1], specialFeatures: id % 2 ? [1] : [1, 2],
      policyUrl: 'https://example.invalid/privacy',
    };
  }
  const numbered = (n, what) => Object.fromEntries(
    Array.from({ length: n }, (_, i) => [i + 1, { id: i + 1, name: `${what} ${i + 1}`, description: '' }]));
  return {
    gvlSpecificationVersion: 3, vendorListVersion: 150, tcfPolicyVersion: policyVersion,
    lastUpdated: '2026-03-01T16:00:00Z', purposes: numbered(11, 'Purpose'),
    specialPurposes: numbered(3, 'Special purpose'), features: numbered(3, 'Feature'),
    specialFeatures: numbered(2, 'Special feature'), stacks: {}, dataCategories: {}, vendors,
  };
}

// name -> [model settings, encoding options]
const CASES = {
  all_purposes_bitfield: [{ purposes: range(1, 11), vendors: [1, 2, 3, 8, 9, 10], sf: [1, 2] }],
  nothing_consented: [{ purposes: [], vendors: [], sf: [] }],
  special_feature_1_opted_out: [{ purposes: range(1, 11), vendors: [1, 2, 3], sf: [2] }],
  special_feature_1_only: [{ purposes: [1, 9], vendors: [2], sf: [1] }],
  sparse_vendors_range: [{ purposes: [1, 7, 8, 9], vendors: [1, 755, 2000], li: [3, 300], sf: [1] }],
  purpose_one_treatment: [{ purposes: [2, 3, 4], vendors: [8, 9], sf: [], p1t: true, cc: 'DE' }],
  publisher_restrictions: [
    { purposes: range(1, 10), vendors: [1, 2, 3, 25, 28], sf: [1], restrict: [[2, 2, 25], [7, 1, 9], [1, 0, 300], [1, 0, 2000], [10, 1, 3]] }],
  publisher_tc_segment: [
    { purposes: [1, 7, 8], vendors: [10], sf: [1], pub: [1, 9], pubLi: [7], custom: [1, 3], customLi: [2], numCustom: 4 },
    { segments: [Segment.CORE, Segment.PUBLISHER_TC] }],
  disclosed_and_publisher_tc: [
    { purposes: [1, 8, 9, 10], vendors: [2, 3], sf: [1, 2], pub: [8], disclosed: [2, 3, 8, 91, 1021] },
    { segments: [Segment.CORE, Segment.VENDORS_DISCLOSED, Segment.PUBLISHER_TC] }],
  disclosed_vendors_only: [
    { purposes: [1, 2], vendors: [1, 2], sf: [], disclosed: [1, 2, 3, 9, 10, 25, 28] },
    { segments: [Segment.CORE, Segment.VENDORS_DISCLOSED] }],
  service_specific_v2_3: [
    { purposes: [1, 3, 5, 6], vendors: [9, 2000], sf: [1], service: true, pub: [5, 6], disclosed: [9, 2000], policy: 5 }],
  long_lived_cmp: [{ purposes: [1, 8], vendors: range(1, 30).filter((v) => v % 4 !== 0), sf: [], cmp: 4095, cmpv: 63, screen: 63, lang: 'fr' }],
};

function range(a, b) { return Array.from({ length: b - a + 1 }, (_, i) => a + i); }

async function model(c) {
  const gvl = new GVL(vendorList(c.policy ?? 4), { language: c.lang ?? 'en' });
  await gvl.readyPromise;
  const tc = new TCModel(gvl);
  tc.cmpId = c.cmp ?? 300; tc.cmpVersion = c.cmpv ?? 2; tc.consentScreen = c.screen ?? 1;
  tc.publisherCountryCode = c.cc ?? 'FR'; tc.isServiceSpecific = c.service ?? false;
  tc.purposeOneTreatment = c.p1t ?? false;
  tc.purposeConsents.set(c.purposes); tc.specialFeatureOptins.set(c.sf);
  tc.vendorConsents.set(c.vendors); tc.vendorLegitimateInterests.set(c.li ?? []);
  tc.purposeLegitimateInterests.set(c.purposeLi ?? [2, 7, 9, 10].filter((p) => !c.purposes.includes(p)));
  tc.publisherConsents.set(c.pub ?? []); tc.publisherLegitimateInterests.set(c.pubLi ?? []);
  tc.publisherCustomConsents.set(c.custom ?? []); tc.publisherCustomLegitimateInterests.set(c.customLi ?? []);
  tc.vendorsDisclosed.set(c.disclosed ?? []);
  if (c.numCustom) tc.numCustomPurposes = c.numCustom;
  for (const [purposeId, type, vendor] of c.restrict ?? []) {
    tc.publisherRestrictions.add(vendor, new PurposeRestriction(purposeId, type));
  }
  tc.created = CREATED; tc.lastUpdated = UPDATED;
  return tc;
}

const ids = (vector) => { const out = []; vector.forEach((has, id) => { if (has) out.push(id); }); return out; };

function fields(tc) {
  const restrictions = [];
  tc.publisherRestrictions.map.forEach((vendors, hash) => {
    const r = PurposeRestriction.unHash(hash);
    restrictions.push({ purpose: r.purposeId, type: r.restrictionType,
      vendors: Array.from(vendors).sort((a, b) => a - b) });
  });
  restrictions.sort((a, b) => a.purpose - b.purpose || a.type - b.type);
  return {
    version: tc.version, created_ds: Math.round(tc.created.getTime() / 100),
    last_updated_ds: Math.round(tc.lastUpdated.getTime() / 100), cmp_id: tc.cmpId,
    cmp_version: tc.cmpVersion, consent_screen: tc.consentScreen, consent_language: tc.consentLanguage,
    vendor_list_version: tc.vendorListVersion, policy_version: tc.policyVersion,
    is_service_specific: tc.isServiceSpecific, use_non_standard_texts: tc.useNonStandardTexts,
    special_feature_opt_ins: ids(tc.specialFeatureOptins), purposes_consent: ids(tc.purposeConsents),
    purposes_li_transparency: ids(tc.purposeLegitimateInterests),
    purpose_one_treatment: tc.purposeOneTreatment, publisher_cc: tc.publisherCountryCode,
    vendor_consents: ids(tc.vendorConsents), vendor_li: ids(tc.vendorLegitimateInterests),
    publisher_restrictions: restrictions, vendors_disclosed: ids(tc.vendorsDisclosed),
    publisher_consents: ids(tc.publisherConsents), publisher_li: ids(tc.publisherLegitimateInterests),
    num_custom_purposes: tc.numCustomPurposes, publisher_custom_consents: ids(tc.publisherCustomConsents),
    publisher_custom_li: ids(tc.publisherCustomLegitimateInterests),
  };
}

function refuses(text) {
  try { TCString.decode(text); return false; } catch (err) { return true; }
}

const vectors = [];
const truncations = [];
for (const [name, [c, options]] of Object.entries(CASES)) {
  const string = TCString.encode(await model(c), options);
  const decoded = fields(TCString.decode(string));
  vectors.push({ name, string, segments: string.split('.').length, fields: decoded });
  for (let cut = 1; cut < string.length; cut++) {
    const text = string.slice(0, string.length - cut);
    const boundary = string[string.length - cut] === '.';
    truncations.push({ name, cut, string: text, segment_boundary: boundary, official_refuses: refuses(text) });
  }
}
const out = {
  generator: '@iabtechlabtcf/core 1.5.21 (tests/vectors/tcf/make_vectors.mjs)',
  note: 'created_ds/last_updated_ds are deciseconds since the epoch; ids are 1-based',
  vectors, truncations,
};
writeFileSync(new URL('./tcf_vectors.json', import.meta.url), JSON.stringify(out, null, 1) + '\n');
console.log(`${vectors.length} vectors, ${truncations.length} truncations, ` +
  `${truncations.filter((t) => !t.official_refuses).length} accepted by the official decoder`);
