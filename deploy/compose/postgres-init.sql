-- One database per service (DESIGN.md: each service owns its database).
CREATE DATABASE intake;
CREATE DATABASE invoicing;
CREATE DATABASE appointments;
CREATE DATABASE reporting;
CREATE DATABASE gateway;
