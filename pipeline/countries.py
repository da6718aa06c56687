"""Countries: ISO 3166 alpha-3 codes, and the names publishers give them, stated once.

The row rules (pipeline/sources/base.py) take a country code as known when it is in this table; the
readers that get names instead of codes (ACLED, UCDP) look the names up here. Every ISO 3166-1 code is
in it, with XKX for Kosovo (user-assigned, but what UNHCR, the World Bank and others use), and the
codes publishers use for no country in particular (OTHER_CODES).
"""

from __future__ import annotations

# one line a country: its code, then the names it goes by, separated by |
_COUNTRY_TEXT = """
AFG Afghanistan
ALB Albania
DZA Algeria
ASM American Samoa
AND Andorra
AGO Angola
AIA Anguilla
ATA Antarctica
ATG Antigua and Barbuda|Antigua & Barbuda
ARG Argentina
ARM Armenia
ABW Aruba
AUS Australia
AUT Austria
AZE Azerbaijan
BHS Bahamas|The Bahamas
BHR Bahrain
GGY Bailiwick of Guernsey|Guernsey
JEY Bailiwick of Jersey|Jersey
BGD Bangladesh
BRB Barbados
BLR Belarus
BEL Belgium
BLZ Belize
BEN Benin|Dahomey
BMU Bermuda
BTN Bhutan
BOL Bolivia
BIH Bosnia and Herzegovina|Bosnia-Herzegovina|Bosnia & Herzegovina
BWA Botswana
BVT Bouvet Island
BRA Brazil
IOT British Indian Ocean Territory
VGB British Virgin Islands
BRN Brunei|Brunei Darussalam
BGR Bulgaria
BFA Burkina Faso|Upper Volta
BDI Burundi
KHM Cambodia|Kampuchea
CMR Cameroon
CAN Canada
CPV Cape Verde|Cabo Verde
BES Caribbean Netherlands
CYM Cayman Islands
CAF Central African Republic
TCD Chad
CHL Chile
CHN China
CXR Christmas Island
CCK Cocos (Keeling) Islands
COL Colombia
COM Comoros
COK Cook Islands
CRI Costa Rica
HRV Croatia
CUB Cuba
CUW Curacao|Curaçao
CYP Cyprus
CZE Czech Republic|Czechia
COD Democratic Republic of Congo|Democratic Republic of the Congo|DR Congo|Zaire|Congo, DR|DR Congo (Zaire)
DNK Denmark
DJI Djibouti
DMA Dominica
DOM Dominican Republic
TLS East Timor|Timor-Leste
ECU Ecuador
EGY Egypt
SLV El Salvador
GNQ Equatorial Guinea
ERI Eritrea
EST Estonia
SWZ eSwatini|Eswatini|Swaziland|Kingdom of eSwatini
ETH Ethiopia
FLK Falkland Islands
FRO Faroe Islands
FJI Fiji
FIN Finland
FRA France
GUF French Guiana
PYF French Polynesia
ATF French Southern Territories
GAB Gabon
GMB Gambia|The Gambia
GEO Georgia
DEU Germany
GHA Ghana
GIB Gibraltar
GRC Greece
GRL Greenland
GRD Grenada
GLP Guadeloupe
GUM Guam
GTM Guatemala
GIN Guinea
GNB Guinea-Bissau
GUY Guyana
HTI Haiti
HMD Heard Island and McDonald Islands
HND Honduras
HKG Hong Kong
HUN Hungary
ISL Iceland
IND India
IDN Indonesia
IRN Iran|Islamic Republic of Iran
IRQ Iraq
IRL Ireland
IMN Isle of Man
ISR Israel
ITA Italy
CIV Ivory Coast|Cote d'Ivoire|Côte d'Ivoire
JAM Jamaica
JPN Japan
JOR Jordan
KAZ Kazakhstan
KEN Kenya
KIR Kiribati
XKX Kosovo
KWT Kuwait
KGZ Kyrgyzstan
LAO Laos|Lao PDR
LVA Latvia
LBN Lebanon
LSO Lesotho
LBR Liberia
LBY Libya
LIE Liechtenstein
LTU Lithuania
LUX Luxembourg
MAC Macau|Macao
MDG Madagascar|Malagasy
MWI Malawi
MYS Malaysia
MDV Maldives
MLI Mali
MLT Malta
MHL Marshall Islands
MTQ Martinique
MRT Mauritania
MUS Mauritius
MYT Mayotte
MEX Mexico
FSM Micronesia
MDA Moldova
MCO Monaco
MNG Mongolia
MNE Montenegro
MSR Montserrat
MAR Morocco
MOZ Mozambique
MMR Myanmar|Burma
NAM Namibia
NRU Nauru
NPL Nepal
NLD Netherlands
NCL New Caledonia
NZL New Zealand
NIC Nicaragua
NER Niger
NGA Nigeria
NIU Niue
NFK Norfolk Island
PRK North Korea
MKD North Macedonia|Macedonia|Macedonia, FYR
MNP Northern Mariana Islands
NOR Norway
OMN Oman
PAK Pakistan
PLW Palau
PSE Palestine|State of Palestine|Occupied Palestinian Territory
PAN Panama
PNG Papua New Guinea
PRY Paraguay
PER Peru
PHL Philippines
PCN Pitcairn
POL Poland
PRT Portugal
PRI Puerto Rico
QAT Qatar
COG Republic of Congo|Republic of the Congo|Congo
REU Reunion|Réunion
ROU Romania
RUS Russia|Russian Federation|Soviet Union
RWA Rwanda
SHN Saint Helena, Ascension and Tristan da Cunha|Saint Helena
KNA Saint Kitts and Nevis
LCA Saint Lucia
SPM Saint Pierre and Miquelon
VCT Saint Vincent and the Grenadines
BLM Saint-Barthelemy|Saint Barthelemy
MAF Saint-Martin|Saint Martin
WSM Samoa
SMR San Marino
STP Sao Tome and Principe
SAU Saudi Arabia
SEN Senegal
SRB Serbia|Yugoslavia
SYC Seychelles
SLE Sierra Leone
SGP Singapore
SXM Sint Maarten
SVK Slovakia
SVN Slovenia
SLB Solomon Islands
SOM Somalia
ZAF South Africa
SGS South Georgia and the South Sandwich Islands
KOR South Korea
SSD South Sudan
ESP Spain
LKA Sri Lanka
SDN Sudan
SUR Suriname|Surinam
SJM Svalbard and Jan Mayen
SWE Sweden
CHE Switzerland
SYR Syria|Syrian Arab Republic
TWN Taiwan
TJK Tajikistan
TZA Tanzania
THA Thailand
TGO Togo
TKL Tokelau
TON Tonga
TTO Trinidad and Tobago
TUN Tunisia
TUR Turkey|Türkiye|Turkiye
TKM Turkmenistan
TCA Turks and Caicos Islands
TUV Tuvalu
UGA Uganda
UKR Ukraine
ARE United Arab Emirates
GBR United Kingdom
USA United States|United States of America
UMI United States Minor Outlying Islands
URY Uruguay
UZB Uzbekistan
VUT Vanuatu
VAT Vatican City
VEN Venezuela
VNM Vietnam|Viet Nam
VIR Virgin Islands, U.S.
WLF Wallis and Futuna
ESH Western Sahara
YEM Yemen
ZMB Zambia
ZWE Zimbabwe|Rhodesia
ALA Åland Islands|Aland Islands
"""
# lower-case name -> code
COUNTRIES: dict[str, str] = {
    name.strip().lower(): line[:3]
    for line in _COUNTRY_TEXT.strip().splitlines()
    for name in line[4:].split("|")
}
# codes publishers use beyond ISO 3166-1, accepted as they are: UNHCR writes UNK for an unknown country (of
# asylum, say), where the figure is real and must not be lost (XKX, Kosovo, is in the table above)
OTHER_CODES = frozenset({"UNK"})
ISO3_CODES: frozenset[str] = frozenset(COUNTRIES.values()) | OTHER_CODES
# code -> the first name on its line, for readers of charts ("Syria", not "SYR")
NAMES: dict[str, str] = {line[:3]: line[4:].split("|")[0] for line in _COUNTRY_TEXT.strip().splitlines()}


def name_of(code: str | None) -> str | None:
    """A country's name for a code (the code itself when it is not a country's)."""
    return NAMES.get(code, code) if code else code
